"""RabbitMQ stopped (`rabbitmqctl stop_app`) and started again under the running services: requests
that need the bus get a prompt 503, readiness says so at once, state changes wait in the outbox, and
every event is delivered once the broker is back.

Disruptive (it stops the machine's broker for everyone): `make chaos` runs it, `make test` does not.
"""

import asyncio
import json
import subprocess
import time
import uuid

import aio_pika
import pytest

from voice_shared.testing import auth, config_body, session_body

pytestmark = [pytest.mark.chaos, pytest.mark.disruptive]


async def rabbitmqctl(*args: str) -> None:
    """In a thread: the services in this process go on seeing the broker leave and come back."""
    await asyncio.to_thread(subprocess.run, ["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


async def test_a_broker_outage_gives_503s_keeps_state_and_delivers_every_event_after(  # type: ignore[no-untyped-def]
    gateway, token, base_settings, fault_report
) -> None:
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    started = (await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                  headers=admin)).json()
    assert (await gateway.post(f"/api/voice/sessions/{started['id']}/start?orgId={org}", headers=admin)).is_success
    # A durable queue of the test's own, bound before the outage: what it holds afterwards was delivered.
    watch = f"{base_settings.bus_namespace}.test.outage.{uuid.uuid4().hex[:6]}"
    connection = await aio_pika.connect(base_settings.amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue(watch, durable=True, arguments={"x-queue-type": "quorum"})
    await queue.bind(f"{base_settings.bus_namespace}.events", routing_key="session.created")
    await connection.close()

    await rabbitmqctl("stop_app")
    await asyncio.sleep(1)  # the clients read the broker's goodbye
    try:
        ready = await asyncio.wait_for(gateway.get("/readyz"), 15)
        offer = await asyncio.wait_for(gateway.post(
            f"/api/voice/sessions/{started['id']}/webrtc/offer?orgId={org}",
            json={"sdp": "v=0\r\noffer", "type": "offer"}, headers=admin), 30)
        made = [(await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                    headers=admin)) for _ in range(5)]
    finally:
        await rabbitmqctl("start_app")
    back = time.monotonic()

    connection = await aio_pika.connect_robust(base_settings.amqp_url)
    delivered: set[str] = set()
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(watch, passive=True)
        wanted = {m.json()["id"] for m in made if m.status_code == 201}
        deadline = time.monotonic() + 60
        while not wanted <= delivered and time.monotonic() < deadline:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.2)
            else:
                delivered.add(json.loads(message.body)["session_id"])
        recovery = time.monotonic() - back
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
    fault_report("RabbitMQ stop_app/start_app under the services", sent=len(made),
                 lost=len(wanted - delivered), recovery_seconds=recovery)

    assert ready.status_code == 503 and "bus" in ready.json()["failures"]
    assert offer.status_code == 503 and offer.json()["error"]["code"] == "bus_unavailable", offer.text
    assert [m.status_code for m in made] == [201] * 5  # state changes wait in the outbox
    assert wanted <= delivered
