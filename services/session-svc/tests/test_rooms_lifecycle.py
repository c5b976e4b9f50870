"""Rooms through session-svc with the Daily adapter: provisioned on start, deleted on every terminal
state, swept when a cleanup failed or a start was retried. A fake Daily REST server on 127.0.0.1,
real Postgres and RabbitMQ, and a session-svc of its own with a database and bus namespace of its own."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlmodel import col

from session_svc.app import create_app
from session_svc.credentials.resolve import CredentialMissing
from session_svc.models import VoiceRoom
from session_svc.settings import SessionSettings
from voice_shared.bus import declare_topology, delete_topology, make_broker, publish_envelope
from voice_shared.contracts import BotFinished, envelope
from voice_shared.db import transaction
from voice_shared.dbsetup import drop_database, ensure_database
from voice_shared.migrations import upgrade
from voice_shared.testing import auth, config_body, session_body

MIGRATIONS = Path(__file__).parents[1] / "migrations"
KEY = "daily-test-key-0123"  # what the fake_daily fixture accepts
MARGIN_MINUTES = 30
ORGS_WITHOUT_KEY: set[uuid.UUID] = set()


@pytest.fixture(scope="module")
def fake(fake_daily):  # type: ignore[no-untyped-def]
    return fake_daily


async def daily_key(_db: Any, org_id: uuid.UUID, service: str, _settings: Any) -> str:
    assert service == "daily"
    if org_id in ORGS_WITHOUT_KEY:
        raise CredentialMissing("No Daily key is configured.", details={"service": "daily"})
    return KEY


@pytest.fixture(scope="module")
async def svc_settings(platform_env: dict[str, str], fake) -> AsyncIterator[SessionSettings]:  # type: ignore[no-untyped-def]
    """A database and bus namespace of this module's own: other session-svc instances of the test
    run share the run's database, and their outbox relays and sweepers would act on these rooms
    with their own (real) Daily settings."""
    namespace = f"{platform_env['bus_namespace']}rooms"
    app_url = make_url(platform_env["database_url"])
    database = f"{app_url.database}_rooms"
    superuser = str(app_url.set(username="postgres", database="postgres").render_as_string(hide_password=False))
    env = {**platform_env, "bus_namespace": namespace,
           "database_url": _with_db(platform_env["database_url"], database),
           "migration_database_url": _with_db(platform_env["migration_database_url"], database)}
    await ensure_database(superuser, env["database_url"], env["migration_database_url"], ["session_svc"])
    await asyncio.to_thread(upgrade, MIGRATIONS, env["migration_database_url"], "session_svc", "voice_app")
    settings = SessionSettings(
        **env,  # type: ignore[arg-type]
        outbox_poll_seconds=0.05, daily_api_url=fake.url, daily_max_attempts=3,
        daily_backoff_seconds=0.01, daily_backoff_max_seconds=0.02, room_margin_minutes=MARGIN_MINUTES,
        room_sweep_seconds=3600,  # the tests sweep when they mean to
    )
    broker = make_broker(settings)
    await broker.connect()
    await declare_topology(broker, namespace)
    await broker.stop()
    yield settings
    await delete_topology(settings.amqp_url, namespace)
    await drop_database(superuser, database)


def _with_db(url: str, database: str) -> str:
    return str(make_url(url).set(database=database).render_as_string(hide_password=False))


@pytest.fixture(scope="module")
async def app(svc_settings: SessionSettings):  # type: ignore[no-untyped-def]
    application = create_app(svc_settings, room_secrets=daily_key)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://session-svc") as c:
        yield c


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def admin(token, org) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return auth(token(org, "org_admin"))


async def daily_session(client: httpx.AsyncClient, org: uuid.UUID, headers: dict[str, str],
                        recording: str = "off", max_minutes: int = 20) -> dict[str, Any]:
    providers = {"transport": "daily", "recording": recording}
    r = await client.post(f"/api/voice/configs?orgId={org}", headers=headers,
                          json=config_body(providers=providers, maxDurationMinutes=max_minutes))
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/voice/sessions?orgId={org}", json=session_body(r.json()["id"]), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def start(client: httpx.AsyncClient, org: uuid.UUID, sid: str, headers: dict[str, str]) -> httpx.Response:
    return await client.post(f"/api/voice/sessions/{sid}/start?orgId={org}", headers=headers)


async def rooms_of(app, org: uuid.UUID, sid: str) -> list[VoiceRoom]:  # type: ignore[no-untyped-def]
    async with transaction(app.state.sessions, org) as tx:
        rows = (await tx.execute(select(VoiceRoom).where(col(VoiceRoom.session_id) == uuid.UUID(sid))
                                 .order_by(col(VoiceRoom.created_at)))).scalars().all()
    return list(rows)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def all_deleted(app, fake, org: uuid.UUID, sid: str) -> None:  # type: ignore[no-untyped-def]
    async def done() -> bool:
        rows = await rooms_of(app, org, sid)
        return bool(rows) and all(r.deleted_at is not None and fake.deleted(r.name) for r in rows)

    await eventually(done)


# --- provisioning ------------------------------------------------------------------------------------


async def test_start_provisions_a_private_room_and_only_managers_see_it(client, app, fake, token, org, admin) -> None:  # type: ignore[no-untyped-def]
    session = await daily_session(client, org, admin)
    sid = session["id"]
    before = datetime.now(UTC)
    r = await start(client, org, sid, admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    room = body["room"]
    assert room["provider"] == "daily" and room["name"] == f"{sid}-1"
    assert room["url"] == f"https://fake.daily.co/{sid}-1"
    # Open until an interview started at the join deadline (the config's 72 hours) is over.
    assert datetime.fromisoformat(body["joinDeadline"]) - before >= timedelta(hours=72)
    expires = datetime.fromisoformat(room["expiresAt"])
    expected = datetime.fromisoformat(body["joinDeadline"]) + timedelta(minutes=20 + MARGIN_MINUTES)
    assert abs((expires - expected).total_seconds()) < 1

    [call] = [c for c in fake.of("POST", "rooms") if c.body["name"] == room["name"]]
    assert call.authorization == f"Bearer {KEY}" and call.body["privacy"] == "private"
    assert call.body["properties"]["max_participants"] == 3
    assert call.body["properties"]["exp"] == int(expires.timestamp())
    assert "enable_recording" not in call.body["properties"]

    got = (await client.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=admin)).json()
    assert got["room"] == room
    listed = (await client.get(f"/api/voice/sessions?orgId={org}", headers=admin)).json()
    assert [s["room"] for s in listed["items"]] == [None]  # never in lists, not even to managers


async def test_viewers_never_see_the_room(client, token, org, admin) -> None:  # type: ignore[no-untyped-def]
    session = await daily_session(client, org, admin)
    sid = session["id"]
    assert (await start(client, org, sid, admin)).status_code == 200
    viewer = token(org, "org_user", sub="viewer-1")
    await client.post(f"/api/voice/sessions/{sid}/shares?orgId={org}", headers=admin,
                      json={"userId": "viewer-1", "level": "view_analytics"})
    seen = (await client.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=auth(viewer))).json()
    assert seen["access"] == "view_analytics" and seen["room"] is None
    listed = (await client.get(f"/api/voice/sessions?orgId={org}", headers=auth(viewer))).json()
    assert listed["items"][0]["room"] is None and "token" not in str(listed)


async def test_bot_gets_an_owner_token_candidate_an_expiring_one(client, app, fake, token, org, admin) -> None:  # type: ignore[no-untyped-def]
    session = await daily_session(client, org, admin, recording="cloud")
    sid = session["id"]
    room = (await start(client, org, sid, admin)).json()["room"]
    assert [c for c in fake.of("POST", "rooms") if c.body["name"] == room["name"]][0] \
        .body["properties"]["enable_recording"] == "cloud"

    bot = auth(token(service="bot", sub="bot-7"))
    r = await client.get(f"/internal/sessions/{sid}/room?orgId={org}", headers=bot)
    assert r.status_code == 200, r.text
    access = r.json()
    assert access["url"] == room["url"] and access["name"] == room["name"]
    exp = int(datetime.fromisoformat(room["expiresAt"]).timestamp())
    assert fake.tokens[access["token"]] == {
        "room_name": room["name"], "is_owner": True, "user_name": "Ada", "exp": exp,
        "start_cloud_recording": True,
    }
    candidate = await app.state.rooms.access(org, uuid.UUID(sid), "candidate")
    assert fake.tokens[candidate.token] == {
        "room_name": room["name"], "is_owner": False, "user_name": "Grace Hopper", "exp": exp,
        "eject_at_token_exp": True,
    }
    assert (await client.get(f"/internal/sessions/{sid}/room?orgId={org}", headers=admin)).status_code == 403
    other = auth(token(service="transcript-svc"))
    assert (await client.get(f"/internal/sessions/{sid}/room?orgId={org}", headers=other)).status_code == 403


# --- cleanup on every terminal state -----------------------------------------------------------------


async def cancel(client, settings, org, sid, headers) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/voice/sessions/{sid}/cancel?orgId={org}", headers=headers)
    assert r.json()["status"] == "cancelled"


async def delete(client, settings, org, sid, headers) -> None:  # type: ignore[no-untyped-def]
    assert (await client.delete(f"/api/voice/sessions/{sid}?orgId={org}", headers=headers)).status_code == 204


async def bot_finished(client, settings, org, sid, headers) -> None:  # type: ignore[no-untyped-def]
    broker = make_broker(settings)
    await broker.connect()
    try:
        event = BotFinished(session_id=uuid.UUID(sid), bot_id="bot-1", outcome="completed", reason="plan_complete")
        await publish_envelope(broker, settings.bus_namespace,
                               envelope(event, org_id=org, session_id=uuid.UUID(sid)))
    finally:
        await broker.stop()

    async def completed() -> bool:
        got = (await client.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=headers)).json()
        return got["status"] == "completed"  # type: ignore[no-any-return]

    await eventually(completed)


@pytest.mark.parametrize("end", [cancel, delete, bot_finished], ids=["cancel", "delete", "bot_finished"])
async def test_every_terminal_state_deletes_the_room(client, app, fake, svc_settings, org, admin, end) -> None:  # type: ignore[no-untyped-def]
    sid = (await daily_session(client, org, admin))["id"]
    assert (await start(client, org, sid, admin)).status_code == 200
    assert f"{sid}-1" in fake.rooms

    await end(client, svc_settings, org, sid, admin)

    await all_deleted(app, fake, org, sid)


async def test_ending_an_active_session_deletes_the_room(client, app, fake, svc_settings, org, admin) -> None:  # type: ignore[no-untyped-def]
    from session_svc import service

    sid = (await daily_session(client, org, admin))["id"]
    assert (await start(client, org, sid, admin)).status_code == 200
    await service.apply_bot_event(app.state.sessions, org, uuid.UUID(sid), service.S.active, None,
                                  "test.bot-joined", uuid.uuid4(), None)
    r = await client.post(f"/api/voice/sessions/{sid}/end?orgId={org}", headers=admin)
    assert r.json()["status"] == "completed"
    await all_deleted(app, fake, org, sid)


# --- failures and retried starts ---------------------------------------------------------------------


async def test_refused_room_leaves_session_pending_and_retry_gets_fresh_room(client, app, fake, org, admin) -> None:  # type: ignore[no-untyped-def]
    sid = (await daily_session(client, org, admin))["id"]
    fake.script("POST", "rooms", fake.answer(400, {"error": "invalid-request-error", "info": "plan limit reached"}))
    r = await start(client, org, sid, admin)
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "room_provider_refused"
    assert "plan limit reached" in r.json()["error"]["message"]
    got = (await client.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=admin)).json()
    assert got["status"] == "pending" and got["room"] is None
    assert got["statusReason"].startswith("room_provisioning_failed: Daily refused to create the room (400")

    r = await start(client, org, sid, admin)
    assert r.status_code == 200 and r.json()["room"]["name"] == f"{sid}-2"
    assert r.json()["statusReason"] is None
    first, second = await rooms_of(app, org, sid)
    assert first.name == f"{sid}-1" and first.deleted_at is not None and "plan limit" in (first.last_error or "")
    assert second.deleted_at is None and second.url == f"https://fake.daily.co/{sid}-2"


async def test_429_then_success_starts(client, fake, org, admin) -> None:  # type: ignore[no-untyped-def]
    sid = (await daily_session(client, org, admin))["id"]
    fake.script("POST", "rooms", fake.answer(429, {"error": "rate-limit"}))
    r = await start(client, org, sid, admin)
    assert r.status_code == 200, r.text
    assert len([c for c in fake.of("POST", "rooms") if c.body["name"] == f"{sid}-1"]) == 2


async def test_5xx_until_giving_up_then_the_sweeper_deletes_the_replaced_room(client, app, fake, org, admin) -> None:  # type: ignore[no-untyped-def]
    sid = (await daily_session(client, org, admin))["id"]
    # The first attempt does create the room (its answer is lost); the rest fail; so does the cleanup.
    fake.script("POST", "rooms", fake.answer(500, {"error": "server-error"}, then_serve=True),
                *[fake.answer(500, {"error": "server-error"})] * 2)
    fake.script("DELETE", "room", *[fake.answer(503, {"error": "unavailable"})] * 3)
    r = await start(client, org, sid, admin)
    assert r.status_code == 503 and r.json()["error"]["code"] == "room_provider_unavailable"
    assert "after 3 attempts" in r.json()["error"]["message"]
    [orphan] = await rooms_of(app, org, sid)
    assert orphan.deleted_at is None and orphan.delete_attempts >= 1 and f"{sid}-1" in fake.rooms
    got = (await client.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=admin)).json()
    assert got["status"] == "pending" and "after 3 attempts" in got["statusReason"]

    assert (await start(client, org, sid, admin)).json()["room"]["name"] == f"{sid}-2"
    await app.state.rooms.sweep_once()

    first, second = await rooms_of(app, org, sid)
    assert first.deleted_at is not None and fake.deleted(f"{sid}-1")
    assert second.deleted_at is None and f"{sid}-2" in fake.rooms


async def test_a_missing_key_is_a_clear_reason(client, org, admin) -> None:  # type: ignore[no-untyped-def]
    sid = (await daily_session(client, org, admin))["id"]
    ORGS_WITHOUT_KEY.add(org)
    try:
        r = await start(client, org, sid, admin)
    finally:
        ORGS_WITHOUT_KEY.discard(org)
    assert r.status_code == 409 and r.json()["error"]["code"] == "credential_missing"
    got = (await client.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=admin)).json()
    assert got["status"] == "pending" and got["statusReason"] == "room_provisioning_failed: No Daily key is configured."
    assert (await start(client, org, sid, admin)).status_code == 200


async def test_a_second_start_while_the_first_provisions_is_refused(client, fake, org, admin) -> None:  # type: ignore[no-untyped-def]
    sid = (await daily_session(client, org, admin))["id"]
    fake.script("POST", "rooms", fake.answer(0, delay=0.5))
    first = asyncio.create_task(start(client, org, sid, admin))
    await asyncio.sleep(0.2)
    second = await start(client, org, sid, admin)
    assert second.status_code == 409 and second.json()["error"]["code"] == "start_in_progress"
    assert (await first).json()["room"]["name"] == f"{sid}-1"


async def test_cancelling_while_the_room_is_provisioned_releases_it(client, app, fake, org, admin) -> None:  # type: ignore[no-untyped-def]
    sid = (await daily_session(client, org, admin))["id"]
    fake.script("POST", "rooms", fake.answer(503, {"error": "unavailable"}, delay=0.5, then_serve=True))
    starting = asyncio.create_task(start(client, org, sid, admin))
    await asyncio.sleep(0.2)
    r = await client.post(f"/api/voice/sessions/{sid}/cancel?orgId={org}", headers=admin)
    assert r.json()["status"] == "cancelled"
    started = await starting
    assert started.status_code == 409 and started.json()["error"]["code"] == "session_moved_on"
    await all_deleted(app, fake, org, sid)


# --- the sweeper -------------------------------------------------------------------------------------


async def test_the_sweeper_deletes_rooms_of_ended_sessions_whose_cleanup_failed(client, app, fake, org, admin) -> None:  # type: ignore[no-untyped-def]
    sid = (await daily_session(client, org, admin))["id"]
    assert (await start(client, org, sid, admin)).status_code == 200
    fake.script("DELETE", "room", *[fake.answer(500, {"error": "server-error"})] * 3)
    await client.post(f"/api/voice/sessions/{sid}/cancel?orgId={org}", headers=admin)

    async def cleanup_failed() -> bool:
        return (await rooms_of(app, org, sid))[0].delete_attempts >= 1

    await eventually(cleanup_failed)
    [room] = await rooms_of(app, org, sid)
    assert room.deleted_at is None and "Daily could not delete the room" in (room.last_error or "")

    assert await app.state.rooms.sweep_once() >= 1
    await all_deleted(app, fake, org, sid)


async def test_the_sweeper_deletes_expired_rooms_of_live_sessions(client, app, fake, org, admin) -> None:  # type: ignore[no-untyped-def]
    sid = (await daily_session(client, org, admin))["id"]
    assert (await start(client, org, sid, admin)).status_code == 200
    async with transaction(app.state.sessions, org) as tx:
        await tx.execute(update(VoiceRoom).where(col(VoiceRoom.session_id) == uuid.UUID(sid))
                         .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    got = (await client.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=admin)).json()
    assert got["status"] == "ready" and got["room"] is None  # an expired room is not offered

    await app.state.rooms.sweep_once()
    await all_deleted(app, fake, org, sid)
