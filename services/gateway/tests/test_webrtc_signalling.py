"""WebRTC signalling of local rooms: the gateway forwards an SDP offer over the real broker to a test
responder bound like the session's bot, and returns its answer; every refusal is clear and fast."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings
from voice_shared.bus import make_broker, serve_negotiation
from voice_shared.contracts import Envelope, Event, NegotiateWebRtc, WebRtcAnswered, WebRtcRefused
from voice_shared.join import JoinTokens
from voice_shared.testing import auth, config_body, session_body

OFFER = {"sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", "type": "offer"}

Negotiate = Callable[[NegotiateWebRtc, Envelope], Awaitable[Event]]


@pytest.fixture(scope="module")
async def bot_broker(base_settings, topology):  # type: ignore[no-untyped-def]
    """The test responder's own connection, as a bot worker has."""
    broker = make_broker(base_settings)
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
def serving(bot_broker, base_settings):  # type: ignore[no-untyped-def]
    """``async with serving(session_id, negotiate) as seen``: a bot serves the session meanwhile."""

    @asynccontextmanager
    async def serve(session_id: str, negotiate: Negotiate | None = None) -> AsyncIterator[list[Envelope]]:
        seen: list[Envelope] = []

        async def answer(offer: NegotiateWebRtc, request: Envelope) -> Event:
            seen.append(request)
            if negotiate is not None:
                return await negotiate(offer, request)
            return WebRtcAnswered(session_id=offer.session_id, sdp="v=0\r\nanswer", pc_id="pc-1")

        subscriber = serve_negotiation(bot_broker, base_settings.bus_namespace, uuid.UUID(session_id), answer)
        await subscriber.start()
        try:
            yield seen
        finally:
            await subscriber.stop()

    return serve


async def ready_session(gateway, token, org, *, start: bool = True):  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin", sub=f"admin-{uuid.uuid4().hex[:6]}"))
    config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    session = (await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                  headers=admin)).json()
    if start:
        started = await gateway.post(f"/api/voice/sessions/{session['id']}/start?orgId={org}", headers=admin)
        assert started.status_code == 200, started.text
        session = started.json()
    return admin, session


def offer_path(session: dict[str, Any], org: uuid.UUID | None = None) -> str:
    query = f"?orgId={org}" if org else ""
    return f"/api/voice/sessions/{session['id']}/webrtc/offer{query}"


def candidate_token(base_settings, session: dict[str, Any]) -> str:  # type: ignore[no-untyped-def]
    token, _ = JoinTokens(base_settings).mint(uuid.UUID(session["id"]), uuid.UUID(session["orgId"]), datetime.now(UTC))
    return token


# --- answered -----------------------------------------------------------------------------------------


async def test_a_manager_offer_reaches_the_sessions_bot_and_its_answer_comes_back(gateway, token, serving) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin, session = await ready_session(gateway, token, org)
    # The local room's URL, as session-svc gives it to managers, is this route.
    assert session["room"]["url"].endswith(offer_path(session, org))
    async with serving(session["id"]) as seen:
        r = await gateway.post(offer_path(session, org), json={**OFFER, "pcId": None},
                               headers={**admin, "X-Correlation-ID": "offer-1"})
    assert r.status_code == 200, r.text
    assert r.json() == {"sdp": "v=0\r\nanswer", "type": "answer", "pcId": "pc-1"}
    [request] = seen
    command = NegotiateWebRtc.model_validate(request.payload)
    assert request.type == "webrtc.negotiate" and request.org_id == org
    assert request.correlation_id == "offer-1"
    assert (command.session_id, command.sdp, command.peer) == (uuid.UUID(session["id"]), OFFER["sdp"], "manager")
    assert command.requested_by.startswith("admin-")


async def test_candidate_joins_with_join_token_after_consent(  # type: ignore[no-untyped-def]
    gateway, session_svc, token, serving, base_settings
) -> None:
    org = uuid.uuid4()
    _, session = await ready_session(gateway, token, org)
    candidate = auth(candidate_token(base_settings, session))
    async with serving(session["id"]) as seen:
        r = await gateway.post(offer_path(session), json=OFFER, headers=candidate)
        assert r.status_code == 409 and r.json()["error"]["code"] == "consent_required"
        assert seen == []
        consent = await session_svc.post(f"/internal/join/{session['id']}/consent", headers=candidate,
                                         json={"agreed": True, "consentTextVersion": "v1"})
        assert consent.status_code == 200, consent.text
        r = await gateway.post(offer_path(session), json={**OFFER, "pc_id": "pc-0", "restart_pc": True},
                               headers=candidate)
    assert r.status_code == 200, r.text
    command = NegotiateWebRtc.model_validate(seen[0].payload)
    assert command.peer == "candidate" and command.requested_by == f"candidate:{session['id']}"
    assert (command.pc_id, command.restart_pc) == ("pc-0", True)


# --- refused, clearly -------------------------------------------------------------------------------


async def test_before_start_no_bot_is_coming_and_the_409_says_so(gateway, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin, session = await ready_session(gateway, token, org)
    r = await gateway.post(offer_path(session, org), json=OFFER, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "interview_not_started", r.text
    assert "press Start" in r.json()["error"]["message"]


async def test_after_start_the_offer_waits_for_the_bot_then_says_retry(  # type: ignore[no-untyped-def]
    gateway, token, serving
) -> None:
    org = uuid.uuid4()
    admin, session = await ready_session(gateway, token, org)
    dispatched = await gateway.post(f"/api/voice/sessions/{session['id']}/dispatch?orgId={org}", headers=admin)
    assert dispatched.status_code == 200, dispatched.text
    # No bot comes within the wait (2 s in tests): a retryable 409.
    r = await gateway.post(offer_path(session, org), json=OFFER, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "bot_not_connected"
    assert r.json()["error"]["details"] == {"retryable": True}

    # A bot that begins serving while the offer waits answers it: the candidate connects at once.
    async def bot_arrives() -> None:
        await asyncio.sleep(0.5)
        async with serving(session["id"]):
            await asyncio.sleep(2)

    arrival = asyncio.ensure_future(bot_arrives())
    r = await gateway.post(offer_path(session, org), json=OFFER, headers=admin)
    assert r.status_code == 200, r.text
    await arrival
    # Once it has let go, the offer is unroutable again.
    r = await gateway.post(offer_path(session, org), json=OFFER, headers=admin)
    assert r.json()["error"]["code"] == "bot_not_connected"


async def test_the_bot_refusing_is_relayed(gateway, token, serving) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin, session = await ready_session(gateway, token, org)

    async def refuse(offer: NegotiateWebRtc, _: Envelope) -> Event:
        return WebRtcRefused(session_id=offer.session_id, code="peer_limit", message="Someone is already connected.")

    async with serving(session["id"], refuse):
        r = await gateway.post(offer_path(session, org), json=OFFER, headers=admin)
    assert r.status_code == 409
    assert r.json()["error"] == {"code": "webrtc_refused", "message": "Someone is already connected.",
                                 "details": {"reason": "peer_limit"}}


async def test_a_bot_that_fails_answers_with_a_refusal_not_silence(gateway, token, serving) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin, session = await ready_session(gateway, token, org)

    async def crash(offer: NegotiateWebRtc, _: Envelope) -> Event:
        raise RuntimeError("aiortc exploded")

    async with serving(session["id"], crash):
        r = await gateway.post(offer_path(session, org), json=OFFER, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["details"] == {"reason": "bot_error"}


async def test_sessions_not_ready_or_active_have_no_room(gateway, token, serving) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin, pending = await ready_session(gateway, token, org, start=False)
    async with serving(pending["id"]) as seen:
        r = await gateway.post(offer_path(pending, org), json=OFFER, headers=admin)
        assert r.status_code == 409 and r.json()["error"]["code"] == "session_not_joinable"
        await gateway.post(f"/api/voice/sessions/{pending['id']}/cancel?orgId={org}", headers=admin)
        r = await gateway.post(offer_path(pending, org), json=OFFER, headers=admin)
        assert r.status_code == 409 and r.json()["error"]["details"] == {"status": "cancelled"}
    assert seen == []


async def test_another_orgs_session_is_a_404(gateway, token, serving) -> None:  # type: ignore[no-untyped-def]
    org, other = uuid.uuid4(), uuid.uuid4()
    _, session = await ready_session(gateway, token, org)
    stranger = auth(token(other, "org_owner"))
    async with serving(session["id"]) as seen:
        for query_org in (other, org):
            r = await gateway.post(offer_path(session, query_org), json=OFFER, headers=stranger)
            assert r.status_code == 404, r.text
    assert seen == []


async def test_viewers_may_not_join(gateway, token, serving) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin, session = await ready_session(gateway, token, org)
    await gateway.post(f"/api/voice/sessions/{session['id']}/shares?orgId={org}", headers=admin,
                       json={"userId": "watcher", "level": "view_analytics"})
    async with serving(session["id"]) as seen:
        viewer = await gateway.post(offer_path(session, org), json=OFFER,
                                    headers=auth(token(org, "org_user", sub="watcher")))
        member = await gateway.post(offer_path(session, org), json=OFFER, headers=auth(token(org, "org_user")))
    assert viewer.status_code == 403 and viewer.json()["error"]["code"] == "insufficient_access"
    assert member.status_code == 404
    assert seen == []


async def test_a_join_token_only_opens_its_own_session(gateway, token, serving, base_settings) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    _, mine = await ready_session(gateway, token, org)
    _, theirs = await ready_session(gateway, token, org)
    candidate = auth(candidate_token(base_settings, mine))
    async with serving(theirs["id"]) as seen:
        r = await gateway.post(offer_path(theirs), json=OFFER, headers=candidate)
        assert r.status_code == 404
        r = await gateway.post(offer_path(mine, uuid.uuid4()), json=OFFER, headers=candidate)
        assert r.status_code == 404
    assert seen == []


async def test_bad_tokens_and_bodies_are_stopped_at_the_edge(gateway, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin, session = await ready_session(gateway, token, org)
    assert (await gateway.post(offer_path(session, org), json=OFFER)).status_code == 401
    assert (await gateway.post(offer_path(session, org), json=OFFER, headers=auth("garbage"))).status_code == 401
    r = await gateway.post(offer_path(session), json=OFFER, headers=admin)
    assert r.status_code == 400 and r.json()["error"]["code"] == "org_id_required"
    for body in ({**OFFER, "type": "answer"}, {"type": "offer"}, {**OFFER, "sdp": "x" * 70_000}):
        assert (await gateway.post(offer_path(session, org), json=body, headers=admin)).status_code == 422


# --- a gateway of its own: short answer timeout ----------------------------------------------------


@pytest.fixture
async def impatient_gateway(platform_env, session_svc_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=session_svc_app), base_url="http://session-svc")
    app = create_app(GatewaySettings(**platform_env, webrtc_answer_timeout_seconds=1.0),
                     upstreams={"session-svc": upstream})
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            yield client
    await upstream.aclose()


async def test_a_silent_bot_is_a_504_and_does_not_hold_up_other_sessions(impatient_gateway, token, serving) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin, stuck = await ready_session(impatient_gateway, token, org)
    _, fine = await ready_session(impatient_gateway, token, org)
    hang = asyncio.Event()

    async def never(offer: NegotiateWebRtc, _: Envelope) -> Event:
        await hang.wait()
        raise AssertionError("unreachable")

    async with serving(stuck["id"], never), serving(fine["id"]):
        waiting = asyncio.create_task(impatient_gateway.post(offer_path(stuck, org), json=OFFER, headers=admin))
        await asyncio.sleep(0.1)
        began = time.monotonic()
        answered = await impatient_gateway.post(offer_path(fine, org), json=OFFER, headers=admin)
        assert answered.status_code == 200 and time.monotonic() - began < 0.8
        timed_out = await waiting
        hang.set()
    assert timed_out.status_code == 504 and timed_out.json()["error"]["code"] == "bot_timeout"


def test_only_local_rooms_are_signalled_here() -> None:
    from gateway.signalling import _joinable
    from voice_shared.contracts import SessionStatus
    from voice_shared.errors import Conflict

    _joinable(SessionStatus.active, "local")
    with pytest.raises(Conflict) as err:
        _joinable(SessionStatus.ready, "daily")
    assert err.value.code == "not_a_local_room"
