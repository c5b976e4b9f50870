"""The database dropping the services' connections mid-flow: requests in flight fail cleanly (503,
never a 500 or a hang), the next ones succeed on fresh connections, and no event is lost."""

import asyncio
import os
import time
import uuid

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from voice_shared.testing import auth, config_body, session_body

pytestmark = pytest.mark.chaos


async def terminate_app_connections(database: str) -> int:
    # The root conftest's superuser server (the test database's server, as postgres).
    url = make_url(os.environ.get("VOICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")).set(
        drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        return len(await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = 'voice_app'",
            database))
    finally:
        await conn.close()


async def test_dropped_database_connections_give_503s_then_recover_with_no_event_lost(  # type: ignore[no-untyped-def]
    gateway, token, event_log, platform_env, fault_report
) -> None:
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    database = make_url(platform_env["database_url"]).database
    statuses: list[int] = []
    created: list[str] = []

    async def client() -> None:
        for _ in range(30):
            answer = await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                        headers=admin)
            statuses.append(answer.status_code)
            if answer.status_code == 201:
                created.append(answer.json()["id"])
            else:
                assert answer.json()["error"]["code"] == "database_unavailable", answer.text

    async def saboteur() -> None:
        for _ in range(5):
            await asyncio.sleep(0.15)
            await terminate_app_connections(database)

    await asyncio.gather(client(), client(), client(), saboteur())
    dropped_at = time.monotonic()
    after = await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]), headers=admin)
    recovery = time.monotonic() - dropped_at
    assert after.status_code == 201
    created.append(after.json()["id"])
    arrived = [sid for sid in created if await event_log.wait_for(sid, "session.created", timeout=20)]
    listed = (await gateway.get(f"/api/voice/sessions?orgId={org}&limit=100", headers=admin)).json()
    fault_report("pg_terminate_backend x5 under 3 clients", sent=len(statuses) + 1,
                 lost=len(created) - len(arrived) + len(set(created) - {s["id"] for s in listed["items"]}),
                 recovery_seconds=recovery)

    assert set(statuses) <= {201, 503}, statuses
    assert listed["total"] == len(created)
    assert len(arrived) == len(created)
