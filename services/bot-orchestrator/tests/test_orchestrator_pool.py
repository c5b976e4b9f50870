"""The orchestrator against real Postgres and RabbitMQ: bots known from their heartbeats, the queue of
dispatched sessions with each one's place, lost bots, the pool for platform admins and its schedule; and
with the local backend, real worker processes started to keep the pool warm and replaced when killed.
"""

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bot_orchestrator.app import create_app
from bot_orchestrator.pool.local import LocalBackend
from bot_orchestrator.settings import OrchestratorSettings
from voice_shared.contracts import BotHeartbeat, SessionDispatched, SessionEnded, envelope
from voice_shared.testing import auth

pytestmark = pytest.mark.integration


@asynccontextmanager
async def orchestrator(
    platform_env: dict[str, str], **settings: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(OrchestratorSettings(**platform_env, **settings))  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orchestrator") as c:
            yield app, c


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not (found := await check()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)
    return found


def beat(bot_id: str, state: str = "idle", session: uuid.UUID | None = None, org: uuid.UUID | None = None) -> Any:
    return envelope(BotHeartbeat(bot_id=bot_id, state=state, session_id=session, rss_bytes=300_000_000,  # type: ignore[arg-type]
                                 interviews_served=0), org_id=org, session_id=session)


def dispatched(org: uuid.UUID, session: uuid.UUID, at: datetime) -> Any:
    return envelope(SessionDispatched(session_id=session, config_id=uuid.uuid4(), config_version=1, transport="local",
                                      dispatched_by=f"candidate:{session}"), org_id=org, session_id=session,
                    occurred_at=at)


async def test_the_queue_gives_each_waiting_session_its_place_and_bots_are_known_from_heartbeats(  # type: ignore[no-untyped-def]
    platform_env, publish, token
) -> None:
    session_svc = auth(token(service="session"))
    admin = auth(token(platform_admin=True))
    org = uuid.uuid4()
    first, second, third = (uuid.uuid4() for _ in range(3))
    busy_bot, idle_bot = f"bot-q-{uuid.uuid4().hex[:6]}", f"bot-q-{uuid.uuid4().hex[:6]}"
    async with orchestrator(platform_env, pool_backend="external", pool_min_idle=0,
                            pool_heartbeat_timeout_seconds=1.5, pool_reconcile_seconds=0.2) as (_, client):
        # Dispatched long ago: ahead of whatever other tests of the run left waiting in the shared queue.
        now = datetime(2001, 1, 1, tzinfo=UTC)
        for n, sid in enumerate((first, second, third)):
            await publish(dispatched(org, sid, now + timedelta(milliseconds=n)))

        async def place(sid: uuid.UUID) -> Any:
            r = await client.get(f"/internal/queue/{sid}?orgId={org}", headers=session_svc)
            return r.json() if r.status_code == 200 else None

        third_place = await until(lambda: place(third))
        assert third_place["position"] == 3 and third_place["waiting"] >= 3
        assert third_place["estimatedWaitSeconds"] > 0
        # A bot takes the first: it no longer waits, and the others move up.
        await publish(beat(busy_bot, "busy", first, org))
        await publish(beat(idle_bot))
        await until(lambda: _not_waiting(client, org, first, session_svc))
        assert (await place(second))["position"] == 1 and (await place(third))["position"] == 2
        # Another org's id, or a user, learns nothing.
        elsewhere = await client.get(f"/internal/queue/{second}?orgId={uuid.uuid4()}", headers=session_svc)
        assert elsewhere.status_code == 404
        assert (await client.get(f"/internal/queue/{second}?orgId={org}", headers=admin)).status_code == 403
        # The session ends: it is out of the queue.
        await publish(envelope(SessionEnded(session_id=third, status="cancelled", reason="cancelled_by_user"),
                               org_id=org, session_id=third))
        await until(lambda: _not_waiting(client, org, third, session_svc))

        pool = (await client.get("/api/voice/pool", headers=admin)).json()
        states = {b["id"]: b["state"] for b in pool["bots"]}
        assert states[busy_bot] == "busy" and states[idle_bot] == "idle"
        assert pool["backend"] == "external" and pool["waiting"] >= 1 and pool["schedule"]["enabled"] is False
        busy = next(b for b in pool["bots"] if b["id"] == busy_bot)
        assert busy["sessionId"] == str(first) and busy["rssBytes"] == 300_000_000
        assert (await client.get("/api/voice/pool", headers=auth(token(org, "org_admin")))).status_code == 403
        metrics = (await client.get("/metrics")).text
        assert 'voice_pool_bots{state="busy"}' in metrics and "voice_pool_waiting_sessions" in metrics
        assert "voice_pool_pick_up_seconds_count" in metrics and "voice_pool_desired_bots" in metrics

        # Bots that fall silent are lost; the busy one says which session it left.
        async def lost() -> Any:
            current = {b["id"] for b in (await client.get("/api/voice/pool", headers=admin)).json()["bots"]}
            return not ({busy_bot, idle_bot} & current)

        await until(lost, 10)


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def _not_waiting(client: httpx.AsyncClient, org: uuid.UUID, sid: uuid.UUID, headers: dict[str, str]) -> bool:
    r = await client.get(f"/internal/queue/{sid}?orgId={org}", headers=headers)
    return r.status_code == 404


async def test_platform_admins_set_the_schedule_and_the_pool_follows_it_without_a_restart(  # type: ignore[no-untyped-def]
    platform_env, token
) -> None:
    admin = auth(token(platform_admin=True))
    async with orchestrator(platform_env, pool_backend="external", pool_min_idle=0,
                            pool_reconcile_seconds=0.2) as (_, client):
        r = await client.put("/api/voice/pool/schedule", headers=admin,
                             json={"enabled": True, "timezone": "Mars/Olympus_Mons"})
        assert r.status_code == 422 and "unknown time zone" in r.text, r.text
        r = await client.put("/api/voice/pool/schedule", headers=admin,
                             json={"enabled": True, "start": "18:00", "end": "09:00"})
        assert r.status_code == 422 and "must be after start" in r.text, r.text
        # Every day, all day: in hours now, whatever the time zone.
        every_hour = {"enabled": True, "timezone": "Asia/Tokyo", "weekdays": [1, 2, 3, 4, 5, 6, 7],
                      "start": "00:00", "end": "23:59:59", "inHours": 3, "outOfHours": 1}
        r = await client.put("/api/voice/pool/schedule", headers=admin, json=every_hour)
        assert r.status_code == 200, r.text
        assert r.json()["schedule"]["timezone"] == "Asia/Tokyo"

        async def target_three() -> Any:
            pool = (await client.get("/api/voice/pool", headers=admin)).json()
            return pool if pool["warmTarget"] == 3 else None

        pool = await until(target_three)
        assert pool["inHours"] is True and pool["nextChange"] is not None
        user = auth(token(uuid.uuid4(), "org_owner"))
        assert (await client.put("/api/voice/pool/schedule", headers=user, json=every_hour)).status_code == 403
        await client.put("/api/voice/pool/schedule", headers=admin, json={"enabled": False})


@asynccontextmanager
async def own_namespace(platform_env: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    """The run's database with a bus namespace of this test's own: jobs other tests left unserved in the
    run's queue would keep real workers busy."""
    from voice_shared.bus import declare_topology, delete_topology, make_broker
    from voice_shared.settings import ServiceSettings

    env = {**platform_env, "bus_namespace": f"{platform_env['bus_namespace']}p{uuid.uuid4().hex[:6]}"}
    broker = make_broker(ServiceSettings(**env))  # type: ignore[arg-type]
    await broker.connect()
    await declare_topology(broker, env["bus_namespace"])
    await broker.stop()
    try:
        yield env
    finally:
        await delete_topology(env["amqp_url"], env["bus_namespace"])


@pytest.mark.slow
async def test_the_local_backend_keeps_real_workers_warm_and_replaces_a_killed_one(  # type: ignore[no-untyped-def]
    platform_env, token
) -> None:
    async with own_namespace(platform_env) as env:
        await local_backend_keeps_workers_warm(env, token)


async def local_backend_keeps_workers_warm(platform_env: dict[str, str], token: Any) -> None:
    admin = auth(token(platform_admin=True))
    env = {**os.environ, **{f"VOICE_{k.upper()}": v for k, v in platform_env.items()}, "VOICE_HEARTBEAT_SECONDS": "1"}
    backend = LocalBackend(env)
    app = create_app(OrchestratorSettings(**platform_env, pool_min_idle=1, pool_max_bots=2,  # type: ignore[arg-type]
                                          pool_reconcile_seconds=0.3, pool_heartbeat_timeout_seconds=5),
                     backend=backend)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://o") as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and "warming up" in ready.text

            async def warm() -> Any:
                pool = (await client.get("/api/voice/pool", headers=admin)).json()
                idle = [b for b in pool["bots"] if b["state"] == "idle" and b["backend"] == "local"]
                return idle[0] if idle else None

            first = await until(warm, 180)
            assert first["coldStartSeconds"] is not None and first["coldStartSeconds"] > 0
            # Ready once a reconcile has seen the warm target met (within one reconcile interval).
            await until(lambda: _ready(client), 5)
            pid = backend.pid(first["id"])
            assert pid is not None
            os.kill(pid, signal.SIGKILL)

            async def replaced() -> Any:
                fresh = await warm()
                return fresh if fresh and fresh["id"] != first["id"] else None

            second = await until(replaced, 180)
            pool = (await client.get("/api/voice/pool", headers=admin)).json()
            assert first["id"] not in {b["id"] for b in pool["bots"]}
            assert second["id"] in {b["id"] for b in pool["bots"]}
    assert await backend.size() == 0  # the lifespan's end stopped its workers
