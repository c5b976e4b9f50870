"""The Daily adapter against a fake Daily REST server on 127.0.0.1 that checks every request."""

import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from session_svc.rooms.daily import DailyRooms
from session_svc.rooms.ports import RoomProviderRefused, RoomProviderUnavailable, RoomSpec, room_name

KEY = "daily-test-key-0123"  # what the fake_daily fixture accepts


@pytest.fixture
def fake(fake_daily):  # type: ignore[no-untyped-def]
    return fake_daily


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as c:
        yield c


def daily(fake, client: httpx.AsyncClient, sleeps: Sleeps, key: str = KEY, **kw) -> DailyRooms:  # type: ignore[no-untyped-def]
    return DailyRooms(f"{fake.url}/v1", key, client, sleep=sleeps, jitter=lambda: 1.0,
                      **{"max_attempts": 4, "backoff_seconds": 0.5, "backoff_max_seconds": 3.0, **kw})


def spec(recording: str = "off") -> RoomSpec:
    sid = uuid.uuid4()
    return RoomSpec(org_id=uuid.uuid4(), session_id=sid, name=room_name(sid, 1),
                    expires_at=datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=50),
                    max_participants=3, recording=recording)  # type: ignore[arg-type]


async def test_creates_a_private_expiring_room_for_three_with_the_full_session_id(fake, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    s = spec()
    room = await daily(fake, client, sleeps).create_room(s)

    assert room.name == f"{s.session_id}-1" and room.url == f"https://fake.daily.co/{room.name}"
    [call] = fake.of("POST", "rooms", s.name)
    assert call.authorization == f"Bearer {KEY}"
    assert call.body["name"] == room.name and call.body["privacy"] == "private"
    props = call.body["properties"]
    assert props["exp"] == int(s.expires_at.timestamp()) and props["eject_at_room_exp"] is True
    assert props["max_participants"] == 3
    assert "enable_recording" not in props
    assert sleeps == []


async def test_recording_follows_the_config(fake, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    s = spec("cloud")
    await daily(fake, client, sleeps).create_room(s)
    assert fake.of("POST", "rooms", s.name)[0].body["properties"]["enable_recording"] == "cloud"


async def test_meeting_tokens_owner_for_the_bot_expiring_non_owner_for_the_candidate(fake, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    rooms, s = daily(fake, client, sleeps), spec("cloud")
    room = await rooms.create_room(s)
    bot = await rooms.meeting_token(room.name, owner=True, user_name="Ada", expires_at=s.expires_at,
                                    start_recording=True)
    candidate_exp = s.expires_at - timedelta(minutes=5)
    candidate = await rooms.meeting_token(room.name, owner=False, user_name="Grace", expires_at=candidate_exp)

    assert fake.tokens[bot] == {"room_name": room.name, "is_owner": True, "user_name": "Ada",
                                "exp": int(s.expires_at.timestamp()), "start_cloud_recording": True}
    assert fake.tokens[candidate] == {"room_name": room.name, "is_owner": False, "user_name": "Grace",
                                      "exp": int(candidate_exp.timestamp()), "eject_at_token_exp": True}


async def test_429_then_success_is_retried_after_retry_after(fake, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    fake.script("POST", "rooms", fake.answer(429, {"error": "rate-limit"}, headers={"Retry-After": "2"}))
    room = await daily(fake, client, sleeps).create_room(spec())
    assert len(fake.of("POST", "rooms", room.name)) == 2 and room.name in fake.rooms
    assert sleeps == [2.0]


async def test_5xx_backs_off_exponentially_with_jitter_then_gives_up(fake, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    fake.script("POST", "rooms", *[fake.answer(503, {"error": "unavailable"})] * 4)
    s = spec()
    with pytest.raises(RoomProviderUnavailable) as err:
        await daily(fake, client, sleeps).create_room(s)

    assert len(fake.of("POST", "rooms", s.name)) == 4
    assert sleeps == [0.5, 1.0, 2.0]  # base * 2^n with the jitter at its top (1.0); the cap is 3.0
    assert err.value.status == 503 and err.value.code == "room_provider_unavailable"
    assert "Daily could not create the room: 503 unavailable after 4 attempts" in err.value.message


def test_the_backoff_is_capped_and_jittered() -> None:
    draws = iter([0.0, 0.5, 1.0])
    rooms = DailyRooms("http://x", "k", httpx.AsyncClient(), backoff_seconds=1.0, backoff_max_seconds=4.0,
                       jitter=lambda: next(draws))
    assert [rooms.delay(10), rooms.delay(2), rooms.delay(3)] == [0.0, 1.0, 4.0]
    assert rooms.delay(1, retry_after=60) == 4.0  # Retry-After, within the cap


async def test_no_answer_is_retried_then_a_clear_failure(client, sleeps) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    rooms = DailyRooms(f"http://127.0.0.1:{port}/v1", KEY, client, sleep=sleeps, max_attempts=3)
    with pytest.raises(RoomProviderUnavailable, match=r"no answer \(ConnectError\) after 3 attempts"):
        await rooms.create_room(spec())
    assert len(sleeps) == 2


async def test_a_400_is_final_and_says_what_daily_said(fake, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    fake.script("POST", "rooms", fake.answer(400, {"error": "invalid-request-error", "info": "exp is too far away"}))
    s = spec()
    with pytest.raises(RoomProviderRefused) as err:
        await daily(fake, client, sleeps).create_room(s)
    assert len(fake.of("POST", "rooms", s.name)) == 1 and sleeps == []
    assert err.value.message == ("Daily refused to create the room (400 invalid-request-error: "
                                 "exp is too far away).")
    assert err.value.details["status"] == 400 and err.value.status == 502


async def test_a_wrong_key_names_the_credential(fake, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RoomProviderRefused, match="Check the organisation's Daily API key"):
        await daily(fake, client, sleeps, key="wrong").create_room(spec())


async def test_a_create_that_reached_daily_before_failing_returns_that_room(fake, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    """The first attempt created the room but its answer was a 502; the retry finds it by name."""
    fake.script("POST", "rooms", fake.answer(502, {"error": "bad-gateway"}, then_serve=True))
    s = spec()
    room = await daily(fake, client, sleeps).create_room(s)
    assert room.name == s.name and s.name in fake.rooms
    assert (len(fake.of("POST", "rooms", s.name)), len(fake.of("GET", "room", s.name))) == (2, 1)


async def test_delete_is_idempotent_and_retried(fake, client, sleeps) -> None:  # type: ignore[no-untyped-def]
    rooms, s = daily(fake, client, sleeps), spec()
    await rooms.create_room(s)
    fake.script("DELETE", "room", fake.answer(500, {"error": "server-error"}))
    await rooms.delete_room(s.name)
    assert s.name not in fake.rooms and len(fake.of("DELETE", "room", s.name)) == 2
    await rooms.delete_room(s.name)  # already gone: a 404 counts as deleted
    fake.script("DELETE", "room", *[fake.answer(500, {"error": "server-error"})] * 4)
    with pytest.raises(RoomProviderUnavailable, match="Daily could not delete the room"):
        await rooms.delete_room(s.name)
