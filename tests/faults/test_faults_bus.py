"""Messages nobody can handle never stall a consumer: they are dead-lettered at once, with the reason,
and the valid messages behind them go through (real RabbitMQ, the services' own consumers)."""

import asyncio
import json
import uuid
from typing import Any

import aio_pika
import pytest
from aiormq.exceptions import ChannelPreconditionFailed

from voice_cli.infra import declare_bus
from voice_shared.bus import REASON_HEADER, dead_letter_queue, delete_topology, parked_queue, queue, subscription
from voice_shared.contracts import SessionDispatched, envelope

pytestmark = pytest.mark.chaos

SEGMENTS = subscription("transcript-svc", "segments")
JOBS = subscription("bot", "jobs")


def job(session_id: uuid.UUID, org_id: uuid.UUID | None) -> dict[str, Any]:
    started = SessionDispatched(session_id=session_id, config_id=uuid.uuid4(), config_version=1, transport="local",
                                dispatched_by="someone")
    return envelope(started, org_id=org_id, session_id=session_id).model_dump(mode="json")


BROKEN_BODIES = [
    b"\xff\xfe not even text",
    b"{truncated json",
    json.dumps({"hello": "world"}).encode(),  # JSON, not an envelope
    json.dumps(job(uuid.uuid4(), uuid.uuid4())).encode(),  # a valid event of another type
    json.dumps(job(uuid.uuid4(), uuid.uuid4()) | {"type": "transcript.segment"}).encode(),  # fails the contract
    json.dumps(job(uuid.uuid4(), None)).encode(),  # no org
]


async def test_undecodable_segments_are_dead_lettered_and_valid_ones_behind_them_are_stored(  # type: ignore[no-untyped-def]
    raw_bus, transcript_svc, publish, segment_event, token, fault_report, base_settings
) -> None:
    # More broken messages than the consumer's prefetch (16): left unacked they would stall it.
    broken = [await raw_bus.publish(BROKEN_BODIES[i % len(BROKEN_BODIES)], "transcript.segment")
              for i in range(SEGMENTS.prefetch + 9)]
    org, sid = uuid.uuid4(), uuid.uuid4()
    valid = [segment_event(org, sid, n) for n in range(5)]
    for env in valid:
        await publish(env)

    dead = await raw_bus.take(dead_letter_queue(raw_bus.namespace, SEGMENTS).name, set(broken))
    bot = {"Authorization": f"Bearer {token(service='bot')}"}
    stored = (await transcript_svc.get(f"/internal/sessions/{sid}/segments?orgId={org}", headers=bot)).json()
    for _ in range(100):
        if len(stored["segments"]) == len(valid):
            break
        stored = (await transcript_svc.get(f"/internal/sessions/{sid}/segments?orgId={org}", headers=bot)).json()
    fault_report("25 undecodable transcript.segment, then 5 valid", sent=len(broken) + len(valid),
                 lost=len(valid) - len(stored["segments"]) + len(broken) - len(dead))

    assert len(stored["segments"]) == len(valid)
    assert set(dead) == set(broken), "every broken message is in the dead-letter queue"
    reasons = {str(m.headers[REASON_HEADER]).split(":")[0] for m in dead.values()}
    assert reasons == {"not JSON", "not an event envelope", "expected transcript.segment v1, got session.dispatched v1",
                       "payload fails the transcript.segment contract"}
    assert await raw_bus.depth(queue(raw_bus.namespace, SEGMENTS).name) == 0


async def test_a_dead_letter_consumer_parks_what_it_cannot_decode_and_still_fails_lost_jobs(  # type: ignore[no-untyped-def]
    raw_bus, gateway, started_session, fault_report
) -> None:
    # What RabbitMQ does when the job queue gives up on a message: to the DLX, keyed by the queue's name.
    dlq, dead_letter_key = dead_letter_queue(raw_bus.namespace, JOBS).name, queue(raw_bus.namespace, JOBS).name
    broken_jobs = [*BROKEN_BODIES[:3], json.dumps(job(uuid.uuid4(), None)).encode(),
                   json.dumps(job(uuid.uuid4(), uuid.uuid4()) | {"payload": {"session_id": "?"}}).encode()]
    garbage = [await raw_bus.publish(body, dead_letter_key, exchange="dlx") for body in broken_jobs]
    org, sid, admin = await started_session()
    lost = json.dumps(job(uuid.UUID(sid), uuid.UUID(org))).encode()
    await raw_bus.publish(lost, dead_letter_key, exchange="dlx")

    parked = await raw_bus.take(parked_queue(raw_bus.namespace).name, set(garbage))
    status = None
    for _ in range(100):
        status = (await gateway.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=admin)).json()
        if status["status"] == "failed":
            break
        await asyncio.sleep(0.05)
    fault_report("undecodable bot job in its dead-letter queue", sent=len(garbage) + 1,
                 lost=len(garbage) - len(parked) + (status is None or status["status"] != "failed"))

    assert set(parked) == set(garbage)
    assert all(REASON_HEADER in m.headers for m in parked.values())
    assert status is not None and (status["status"], status["statusReason"]) == ("failed", "bot_lost")
    assert await raw_bus.depth(dlq) == 0


async def test_declaring_replaces_an_empty_queue_with_older_arguments_and_refuses_a_full_one(  # type: ignore[no-untyped-def]
    base_settings,
) -> None:
    namespace = f"{base_settings.bus_namespace}u{uuid.uuid4().hex[:6]}"
    settings = base_settings.model_copy(update={"bus_namespace": namespace})
    old_dlq = dead_letter_queue(namespace, SEGMENTS).name  # as earlier versions declared it: no limit
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        async with connection:
            channel = await connection.channel()
            await channel.declare_queue(old_dlq, durable=True, arguments={"x-queue-type": "quorum"})
            await declare_bus(settings)  # replaced: it was empty
            channel = await connection.channel()
            with pytest.raises(ChannelPreconditionFailed):
                await channel.declare_queue(old_dlq, durable=True, arguments={"x-queue-type": "quorum"})
            channel = await connection.channel()
            await channel.queue_delete(old_dlq)
            await channel.declare_queue(old_dlq, durable=True, arguments={"x-queue-type": "quorum"})
            await channel.default_exchange.publish(aio_pika.Message(b"kept"), routing_key=old_dlq)
            with pytest.raises(RuntimeError, match="holds 1 messages"):
                await declare_bus(settings)
    finally:
        await delete_topology(settings.amqp_url, namespace)
