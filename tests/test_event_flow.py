"""Events leave session-svc through its outbox and arrive over the real broker, exactly once in effect."""

import asyncio
import uuid

import aio_pika
import pytest
from sqlalchemy import text

from voice_shared.bus import make_broker, publish_envelope
from voice_shared.contracts import BotFinished, BotJoined, envelope
from voice_shared.db import make_engine, make_sessionmaker, transaction
from voice_shared.outbox import OutboxRelay, add_to_outbox, outbox_ddl
from voice_shared.testing import auth, config_body, session_body


async def new_session(client, token, org):  # type: ignore[no-untyped-def]
    admin = token(org, "org_admin")
    config = (await client.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=auth(admin))).json()
    session = (await client.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                 headers=auth(admin))).json()
    return admin, session


async def test_lifecycle_events_arrive_in_order(gateway, token, event_log) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin, session = await new_session(gateway, token, org)
    sid = session["id"]
    assert (await gateway.post(f"/api/voice/sessions/{sid}/start?orgId={org}", headers=auth(admin))).status_code == 200
    r = await gateway.post(f"/api/voice/sessions/{sid}/cancel?orgId={org}", json={"reason": "candidate withdrew"},
                           headers=auth(admin))
    assert r.json()["status"] == "cancelled"
    ended = await event_log.wait_for(sid, "session.ended")
    types = [e["type"] for e in event_log.of(sid)]
    assert types == ["session.created", "session.started", "session.ended"]
    assert ended[0]["payload"]["status"] == "cancelled"
    assert ended[0]["payload"]["reason"] == "candidate withdrew"
    assert ended[0]["org_id"] == str(org)
    started = event_log.of(sid, "session.started")[0]
    assert started["payload"]["config_version"] == session["configVersion"]


async def publish(base_settings, env) -> None:  # type: ignore[no-untyped-def]
    broker = make_broker(base_settings)
    await broker.connect()
    try:
        await publish_envelope(broker, base_settings.bus_namespace, env)
    finally:
        await broker.stop()


async def wait_status(client, org, sid, headers, status: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    for _ in range(100):
        body = (await client.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=headers)).json()
        if body["status"] == status:
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"session stayed {body['status']}, expected {status}")


async def test_duplicate_bot_events_have_one_effect(gateway, token, event_log, base_settings) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin, session = await new_session(gateway, token, org)
    sid = uuid.UUID(session["id"])
    await gateway.post(f"/api/voice/sessions/{sid}/start?orgId={org}", headers=auth(admin))
    joined = envelope(BotJoined(session_id=sid, bot_id="bot-1"), org_id=org, session_id=sid)
    finished = envelope(BotFinished(session_id=sid, bot_id="bot-1", outcome="completed",
                                    reason="plan_complete"), org_id=org, session_id=sid)
    for env in (joined, joined, finished, finished):
        await publish(base_settings, env)
    body = await wait_status(gateway, org, sid, auth(admin), "completed")
    assert body["statusReason"] == "plan_complete"
    assert body["activeAt"] and body["durationSeconds"] is not None
    await event_log.wait_for(sid, "bot.finished", count=2)  # both copies really went out
    await asyncio.sleep(0.5)  # time for a second (wrong) session.ended to show up
    assert len(event_log.of(sid, "session.ended")) == 1
    stats = (await gateway.get(f"/api/voice/stats?orgId={org}", headers=auth(admin))).json()
    assert stats["completedThisWeek"] == stats["completedThisMonth"] == 1
    assert stats["averageDurationSeconds"] == body["durationSeconds"]


@pytest.mark.chaos
async def test_relay_dying_after_publish_loses_nothing(  # type: ignore[no-untyped-def]
    gateway, token, event_log, base_settings, platform_env, fault_report
) -> None:
    """Publish, then die before marking sent: the row is sent again and the consumer dedups it.

    The relay under test works on an outbox of its own (a scratch schema), so the services'
    running relays cannot race it; the consumer is session-svc's real one.
    """
    org = uuid.uuid4()
    admin, session = await new_session(gateway, token, org)
    sid = uuid.UUID(session["id"])
    await gateway.post(f"/api/voice/sessions/{sid}/start?orgId={org}", headers=auth(admin))

    schema = f"relay_{uuid.uuid4().hex[:8]}"
    engine = make_engine(platform_env["migration_database_url"], 2)
    db = make_sessionmaker(engine)
    async with transaction(db) as tx:
        await tx.execute(text(f"CREATE SCHEMA {schema}"))
        for sql in outbox_ddl(schema, "voice_app"):
            await tx.execute(text(sql))
    finished = envelope(BotFinished(session_id=sid, bot_id="bot-9", outcome="failed", reason="bot_lost"),
                        org_id=org, session_id=sid)
    async with transaction(db) as tx:
        await add_to_outbox(tx, schema, finished)

    broker = make_broker(base_settings)
    await broker.connect()

    async def publish_then_die(env) -> None:  # type: ignore[no-untyped-def]
        await publish_envelope(broker, base_settings.bus_namespace, env)
        raise SystemExit("relay process killed after the broker confirmed")

    async def publish_ok(env) -> None:  # type: ignore[no-untyped-def]
        await publish_envelope(broker, base_settings.bus_namespace, env)

    unsent = text(f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL")
    try:
        with pytest.raises(SystemExit):
            await OutboxRelay(db, schema, publish_then_die).relay_once()
        async with transaction(db) as tx:
            assert (await tx.execute(unsent)).scalar_one() == 1  # the crash left it unsent
        assert await OutboxRelay(db, schema, publish_ok).relay_once() == 1
        async with transaction(db) as tx:
            assert (await tx.execute(unsent)).scalar_one() == 0
    finally:
        await broker.stop()
        async with transaction(db) as tx:
            await tx.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await engine.dispose()

    copies = await event_log.wait_for(sid, "bot.finished", count=2)
    assert copies[0]["event_id"] == copies[1]["event_id"]
    body = await wait_status(gateway, org, sid, auth(admin), "failed")
    assert body["statusReason"] == "bot_lost"
    await asyncio.sleep(0.5)
    effects = len(event_log.of(sid, "session.ended"))
    fault_report("relay killed between publish and mark-sent", sent=1, lost=int(effects == 0),
                 duplicated=max(0, effects - 1))
    assert effects == 1


async def test_a_bot_job_past_its_delivery_limit_fails_the_session_bot_lost(  # type: ignore[no-untyped-def]
    gateway, token, event_log, base_settings
) -> None:
    org = uuid.uuid4()
    admin, session = await new_session(gateway, token, org)
    sid = session["id"]
    await gateway.post(f"/api/voice/sessions/{sid}/start?orgId={org}", headers=auth(admin))
    await gateway.post(f"/api/voice/sessions/{sid}/dispatch?orgId={org}", headers=auth(admin))
    await event_log.wait_for(sid, "session.dispatched")
    # Bots that take the job and die: each delivery goes back unacked until the queue's limit.
    connection = await aio_pika.connect(base_settings.amqp_url)
    try:
        channel = await connection.channel()
        jobs = await channel.get_queue(f"{base_settings.bus_namespace}.bot.jobs", ensure=False)
        for _ in range(200):
            message = await jobs.get(fail=False)
            if message is None:
                status = (await gateway.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=auth(admin))).json()
                if status["status"] == "failed":
                    break
                await asyncio.sleep(0.05)
                continue
            await message.nack(requeue=True)  # other tests' leftover jobs get the same treatment
    finally:
        await connection.close()
    body = await wait_status(gateway, org, sid, auth(admin), "failed")
    assert body["statusReason"] == "bot_lost"
    ended = await event_log.wait_for(sid, "session.ended")
    assert [e["payload"]["reason"] for e in ended] == ["bot_lost"]
