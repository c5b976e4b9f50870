"""The worker process around the interviews: the job queue's acks, heartbeats, recycling and stopping.

Real RabbitMQ and session-svc; each test purges the run's job queue first, since other tests start
sessions whose jobs nobody serves.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import httpx
import pytest
import uvicorn

from bot_orchestrator.worker.internal_api import bot_token
from bot_orchestrator.worker.models import Models
from bot_orchestrator.worker.process import JOBS, BotWorker
from bot_orchestrator.worker.settings import BotSettings
from voice_shared.bus import parked_queue
from voice_shared.internal_api import SessionApi
from voice_shared.testing import auth, config_body, session_body

NO_OPENAI_KEY = {"transport": "local", "llm": {"provider": "openai", "options": {"model": "gpt-4o-mini"}}}


async def jobs_waiting(settings: BotSettings, purge: bool = False) -> int:
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        jobs = await channel.declare_queue(JOBS.queue_name(settings.bus_namespace), passive=True)
        count = jobs.declaration_result.message_count or 0
        if purge:
            await jobs.purge()
        return count


def bot_settings(platform_env: dict[str, str], **changes: Any) -> BotSettings:
    """An in-process worker's: the test process holds every service in process, so its memory is not a
    bot's (no memory recycling unless a test asks for it)."""
    changes = {"max_rss_mb": 0, **changes}
    return BotSettings(**platform_env, bot_id=f"bot-test-{uuid.uuid4().hex[:6]}", **changes)  # type: ignore[arg-type]


@asynccontextmanager
async def running(settings: BotSettings, models: Models, session_svc_app: Any) -> AsyncIterator[
    tuple[BotWorker, "asyncio.Task[str]"]
]:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=session_svc_app), base_url="http://session-svc")
    worker = BotWorker(settings, models, SessionApi(http, bot_token(settings)))
    task = asyncio.create_task(worker.run())
    try:
        yield worker, task
    finally:
        worker.request_stop()
        await asyncio.wait_for(task, 30)
        await http.aclose()


async def session(gateway: httpx.AsyncClient, token: Any, *, start: bool = True, **config: Any) -> tuple[
    dict[str, Any], dict[str, str]
]:
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    made = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(**config), headers=admin)).json()
    body = (await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(made["id"]),
                               headers=admin)).json()
    if start:  # invited, and the bot sent as the candidate's Start would
        for step in ("start", "dispatch"):
            answer = await gateway.post(f"/api/voice/sessions/{body['id']}/{step}?orgId={org}", headers=admin)
            assert answer.status_code == 200, answer.text
    return body, admin


def beats(event_log: Any, bot_id: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in event_log.events
            if e["type"] == "bot.heartbeat" and e["payload"]["bot_id"] == bot_id]


async def until(condition: Any, timeout: float, what: str) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_jobs_of_ended_sessions_are_dropped_and_the_worker_recycles_after_its_quota(  # type: ignore[no-untyped-def]
    platform_env, session_svc_app, gateway, token, event_log, models, topology
) -> None:
    settings = bot_settings(platform_env, max_interviews=1, heartbeat_seconds=0.3)
    await jobs_waiting(settings, purge=True)
    ended, admin = await session(gateway, token)
    cancelled = await gateway.post(f"/api/voice/sessions/{ended['id']}/cancel?orgId={ended['orgId']}",
                                   headers=admin)
    assert cancelled.json()["status"] == "cancelled"
    failing, _ = await session(gateway, token, providers=NO_OPENAI_KEY)

    async with running(settings, models, session_svc_app) as (worker, task):
        why = await asyncio.wait_for(task, 20)

    assert why == "recycle" and worker.interviews_served == 1
    assert [(r.outcome, r.reason) for r in worker.results] == [
        ("skipped", "session_cancelled"), ("failed", worker.results[1].reason),
    ]
    # Nothing about the cancelled session but the heartbeat that says the bot took (and dropped) its job.
    assert {e["type"] for e in event_log.of(ended["id"]) if e["type"].startswith("bot.")} <= {"bot.heartbeat"}
    finished = (await event_log.wait_for(failing["id"], "bot.finished"))[0]["payload"]
    assert finished["bot_id"] == worker.bot_id and finished["reason"].startswith("credential_missing")
    # Both jobs were acked: with the worker's connection closed, nothing went back to the queue.
    assert await jobs_waiting(settings) == 0
    states = [b["state"] for b in beats(event_log, worker.bot_id)]
    assert states[0] == "idle" and states[-1] == "draining"
    assert all(b["rss_bytes"] > 50_000_000 for b in beats(event_log, worker.bot_id))


async def test_a_stopping_worker_hands_back_a_job_whose_candidate_has_not_joined(  # type: ignore[no-untyped-def]
    platform_env, session_svc_app, gateway, token, event_log, models, topology
) -> None:
    settings = bot_settings(platform_env, heartbeat_seconds=0.2, shutdown_grace_seconds=0.5,
                            no_show_timeout_seconds=60)
    await jobs_waiting(settings, purge=True)
    async with running(settings, models, session_svc_app) as (worker, task):
        waiting, _ = await session(gateway, token)
        await until(lambda: any(b["state"] == "busy" and b["session_id"] == waiting["id"]
                                for b in beats(event_log, worker.bot_id)), 10, "the bot to take the job")
        stopped_at = time.monotonic()
        worker.request_stop()
        assert await asyncio.wait_for(task, 10) == "stopped"
        assert time.monotonic() - stopped_at < 5

    assert [(r.outcome, r.reason) for r in worker.results] == [("returned", "bot_shutdown")]
    assert event_log.of(waiting["id"], "bot.finished") == []
    assert await jobs_waiting(settings, purge=True) == 1  # back in the queue for another bot


@asynccontextmanager
async def over_http(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on a free 127.0.0.1 port (for a worker in another process)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await until(lambda: server.started or task.done(), 10, "uvicorn")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@pytest.mark.e2e
async def test_voice_bot_starts_a_fresh_worker_after_a_recycle_and_stops_on_sigterm(  # type: ignore[no-untyped-def]
    platform_env, session_svc_app, gateway, token, event_log, tmp_path
) -> None:
    bot_id = f"bot-keeper-{uuid.uuid4().hex[:6]}"
    await jobs_waiting(bot_settings(platform_env), purge=True)
    async with over_http(session_svc_app) as session_svc_url:
        env = {**os.environ, **{f"VOICE_{k.upper()}": v for k, v in platform_env.items()},
               "VOICE_SESSION_SVC_URL": session_svc_url, "VOICE_BOT_ID": bot_id, "VOICE_MAX_INTERVIEWS": "1",
               "VOICE_HEARTBEAT_SECONDS": "0.5"}
        log = tmp_path / "bot.log"
        with log.open("w") as out:
            keeper = await asyncio.create_subprocess_exec(sys.executable, "-m", "voice_cli", "bot", env=env,
                                                          stdout=out, stderr=subprocess.STDOUT)
        try:
            await until(lambda: beats(event_log, bot_id) or keeper.returncode is not None, 60, "a warm bot")
            assert keeper.returncode is None, log.read_text()
            failing, _ = await session(gateway, token, providers=NO_OPENAI_KEY)
            finished = await event_log.wait_for(failing["id"], "bot.finished", timeout=15)
            assert finished[0]["payload"]["bot_id"] == bot_id

            def states() -> list[str]:
                return [b["state"] for b in beats(event_log, bot_id)]

            # The first worker leaves after its one interview; the keeper starts the next, which is warm.
            await until(lambda: "draining" in states() and states()[-1] == "idle", 60, "a fresh worker")
            assert "recycled itself" in log.read_text()
            keeper.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(keeper.wait(), 20) == 0, log.read_text()
        finally:
            if keeper.returncode is None:
                keeper.kill()
                await keeper.wait()
    assert states()[-1] == "draining"  # the fresh worker said goodbye too


@pytest.mark.chaos
async def test_undecodable_jobs_are_dead_lettered_and_the_bot_takes_the_next_real_one(  # type: ignore[no-untyped-def]
    platform_env, session_svc_app, gateway, token, event_log, models, topology, fault_report
) -> None:
    settings = bot_settings(platform_env, heartbeat_seconds=0.2, no_show_timeout_seconds=60)
    await jobs_waiting(settings, purge=True)
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        events = await channel.get_exchange(f"{settings.bus_namespace}.events")
        garbage = [b"\xff not json", b"{}", b'{"event_id": "nope"}']
        ids = [uuid.uuid4().hex for _ in garbage]
        for body, message_id in zip(garbage, ids, strict=True):
            await events.publish(aio_pika.Message(body, message_id=message_id, content_type="application/json"),
                                 routing_key="session.dispatched")
        async with running(settings, models, session_svc_app) as (worker, _):
            waiting, admin = await session(gateway, token)
            await until(lambda: any(b["state"] == "busy" and b["session_id"] == waiting["id"]
                                    for b in beats(event_log, worker.bot_id)), 15, "the bot to take the job")
            await gateway.post(f"/api/voice/sessions/{waiting['id']}/cancel?orgId={waiting['orgId']}", headers=admin)
        # Dead-lettered by the bot, then parked by session-svc's consumer of lost jobs, which cannot
        # decode them either.
        parked = await channel.declare_queue(parked_queue(settings.bus_namespace).name, passive=True)
        dead: list[str | None] = []
        deadline = time.monotonic() + 15
        while not set(ids) <= set(dead) and time.monotonic() < deadline:
            if (message := await parked.get(fail=False)) is None:
                await asyncio.sleep(0.1)
                continue
            dead.append(message.message_id)
            await message.ack()
    fault_report("undecodable session.dispatched before a real job (bot)", sent=len(garbage) + 1,
                 lost=len(set(ids) - set(dead)))
    assert set(ids) <= set(dead)
    assert await jobs_waiting(settings) == 0


@pytest.mark.chaos
async def test_cancelling_a_session_whose_candidate_has_not_joined_frees_its_bot_at_once(  # type: ignore[no-untyped-def]
    platform_env, session_svc_app, gateway, token, event_log, models, topology, fault_report
) -> None:
    settings = bot_settings(platform_env, heartbeat_seconds=0.2, no_show_timeout_seconds=300)
    await jobs_waiting(settings, purge=True)
    async with running(settings, models, session_svc_app) as (worker, _):
        waiting, admin = await session(gateway, token)
        await until(lambda: any(b["state"] == "busy" and b["session_id"] == waiting["id"]
                                for b in beats(event_log, worker.bot_id)), 15, "the bot to take the job")
        cancelled_at = time.monotonic()
        await gateway.post(f"/api/voice/sessions/{waiting['id']}/cancel?orgId={waiting['orgId']}", headers=admin)
        await until(lambda: worker.results, 30, "the bot to let the session go")
        freed = time.monotonic() - cancelled_at
        fault_report("cancel a started session: bot freed", sent=1, lost=0, recovery_seconds=freed)
        # Free for the next candidate: it takes the next job.
        after, _ = await session(gateway, token)
        await until(lambda: any(b["state"] == "busy" and b["session_id"] == after["id"]
                                for b in beats(event_log, worker.bot_id)), 15, "the bot to take the next job")
    assert (worker.results[0].outcome, worker.results[0].reason) == ("skipped", "session_cancelled")
    assert event_log.of(waiting["id"], "bot.finished") == []
