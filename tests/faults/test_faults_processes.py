"""Processes killed with SIGKILL mid-stream lose nothing and do nothing twice: a consumer killed five
times during 10,000 events (effects counted in its tables), on a bus namespace of the test's own."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from voice_cli.simulate.stack import free_port
from voice_shared.bus import declare_topology, delete_topology, make_broker, publish_envelope, subscription
from voice_shared.contracts import TranscriptSegment, envelope
from voice_shared.db import make_engine
from voice_shared.settings import ServiceSettings

pytestmark = pytest.mark.chaos

EVENTS, SESSIONS, KILLS = 10_000, 100, 5


@pytest.fixture
async def own_namespace(base_settings: ServiceSettings) -> AsyncIterator[ServiceSettings]:
    """The run's database with a bus namespace of this test's own (no in-process consumer on it)."""
    namespace = f"{base_settings.bus_namespace}k{uuid.uuid4().hex[:6]}"
    settings = base_settings.model_copy(update={"bus_namespace": namespace})
    broker = make_broker(settings)
    await broker.connect()
    await declare_topology(broker, settings.bus_namespace)
    await broker.stop()
    yield settings
    await delete_topology(settings.amqp_url, settings.bus_namespace)


def start_transcript_svc(settings: ServiceSettings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VOICE_DATABASE_URL": settings.database_url,
           "VOICE_MIGRATION_DATABASE_URL": settings.migration_database_url, "VOICE_AMQP_URL": settings.amqp_url,
           "VOICE_BUS_NAMESPACE": settings.bus_namespace, "VOICE_ENVIRONMENT": "test", "VOICE_JSON_LOGS": "true",
           "VOICE_LOG_LEVEL": "WARNING"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "transcript_svc.app:create_app",
                                 "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)


async def ready(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(trust_env=False) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, "transcript-svc exited"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("transcript-svc did not become ready")


async def test_a_consumer_killed_five_times_during_10000_events_loses_and_repeats_none(  # type: ignore[no-untyped-def]
    own_namespace, tmp_path, fault_report
) -> None:
    settings, port, log = own_namespace, free_port(), tmp_path / "transcript-svc.log"
    org, sessions = uuid.uuid4(), [uuid.uuid4() for _ in range(SESSIONS)]
    events = [envelope(TranscriptSegment(session_id=sid, sequence=n, speaker="candidate", text=f"words {n}",
                                         start_ms=n * 1000, end_ms=n * 1000 + 500), org_id=org, session_id=sid)
              for n in range(EVENTS // SESSIONS) for sid in sessions]
    broker = make_broker(settings)
    await broker.connect()
    process = start_transcript_svc(settings, port, log)
    engine = make_engine(settings.migration_database_url, 1)  # the owner: reads the inbox too
    counts = text("SELECT (SELECT count(*) FROM transcript_svc.transcript_segments WHERE session_id = ANY(:s)), "
                  "(SELECT count(*) FROM transcript_svc.inbox WHERE consumer = :c AND event_id = ANY(:e))")
    consumer = subscription("transcript-svc", "segments").consumer
    params = {"s": sessions, "c": consumer, "e": [e.event_id for e in events]}
    try:
        await ready(port, process)

        async def publish_all() -> None:
            for start in range(0, EVENTS, 250):
                await asyncio.gather(*(publish_envelope(broker, settings.bus_namespace, e)
                                       for e in events[start:start + 250]))

        async def kill_repeatedly() -> None:
            nonlocal process
            for _ in range(KILLS):
                await asyncio.sleep(1.5)
                process.send_signal(signal.SIGKILL)
                process.wait()
                process = start_transcript_svc(settings, port, log)
                await ready(port, process)

        began = time.monotonic()
        await asyncio.gather(publish_all(), kill_repeatedly())
        done_publishing = time.monotonic()
        print(f"published {EVENTS} in {done_publishing - began:.1f} s")
        stored = effects = 0
        while time.monotonic() - done_publishing < 120:
            async with engine.connect() as conn:  # segments are a tenant table (RLS, forced)
                await conn.execute(text("SELECT set_config('app.org_id', :o, false)"), {"o": str(org)})
                stored, effects = (await conn.execute(counts, params)).one()
            if stored == EVENTS:
                break
            await asyncio.sleep(0.5)
        recovery = time.monotonic() - done_publishing
    finally:
        process.kill()
        process.wait()
        await broker.stop()
        await engine.dispose()
    fault_report(f"kill -9 a consumer x{KILLS} during {EVENTS:,} events", sent=EVENTS, lost=EVENTS - stored,
                 duplicated=effects - stored, recovery_seconds=recovery)
    assert stored == EVENTS, log.read_text()[-3000:]
    assert effects == stored  # one inbox row per event: each had exactly one effect
