"""Invite, then the candidate starts: the join deadline, the candidate's Start (the bot job), a manager's
dispatch, the org's concurrency limit, a bot letting the session go, and links past their deadline;
against real Postgres and RabbitMQ (the events are read from the bus)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from session_svc.dispatch.service import LinkExpiry
from voice_shared.contracts import BotReleased, envelope
from voice_shared.testing import auth, config_body, join_headers, session_body

CONSENT = {"agreed": True, "consentTextVersion": "2025-01"}


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def new_session(client, org, h, config=None, **session):  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/voice/configs?orgId={org}", json=config_body(**(config or {})), headers=h)
    r = await client.post(f"/api/voice/sessions?orgId={org}", json=session_body(r.json()["id"], **session), headers=h)
    assert r.status_code == 201, r.text
    return r.json()


async def invited(client, org, h, config=None, **session):  # type: ignore[no-untyped-def]
    """A started (invited) session and its candidate's headers, after consent."""
    created = await new_session(client, org, h, config, **session)
    r = await client.post(f"/api/voice/sessions/{created['id']}/start?orgId={org}", headers=h)
    assert r.status_code == 200, r.text
    started = r.json()
    candidate = join_headers(started["joinUrl"])
    r = await client.post(f"/internal/join/{started['id']}/consent", json=CONSENT, headers=candidate)
    assert r.status_code == 200, r.text
    return started, candidate


async def test_start_invites_without_a_bot_and_the_candidates_start_sends_one_once(  # type: ignore[no-untyped-def]
    session_svc, token, org, event_log
) -> None:
    h = auth(token(org, "org_admin"))
    before = datetime.now(UTC)
    created = await new_session(session_svc, org, h, {"linkValidHours": 5})
    sid, q = created["id"], f"?orgId={org}"
    started = (await session_svc.post(f"/api/voice/sessions/{sid}/start{q}", headers=h)).json()
    assert started["status"] == "ready" and started["dispatchedAt"] is None
    deadline = datetime.fromisoformat(started["joinDeadline"])
    assert timedelta(hours=5) <= deadline - before < timedelta(hours=5, seconds=30)
    assert started["joinUrlExpiresAt"] == started["joinDeadline"]
    [invite] = await event_log.wait_for(sid, "session.started")
    assert datetime.fromisoformat(invite["payload"]["join_deadline"]) == deadline

    candidate = join_headers(started["joinUrl"])
    r = await session_svc.post(f"/internal/join/{sid}/start", headers=candidate)
    assert r.status_code == 409 and r.json()["error"]["code"] == "consent_required", r.text
    await session_svc.post(f"/internal/join/{sid}/consent", json=CONSENT, headers=candidate)
    r = await session_svc.post(f"/internal/join/{sid}/start", headers=candidate)
    assert r.status_code == 200, r.text
    pressed = r.json()
    assert pressed["status"] == "ready" and pressed["dispatchedAt"] is not None
    assert pressed["joinDeadline"] == started["joinDeadline"]
    [job] = await event_log.wait_for(sid, "session.dispatched")
    assert job["payload"]["dispatched_by"] == f"candidate:{sid}" and job["payload"]["attempt"] == 1
    assert job["payload"]["transport"] == "local" and job["payload"]["config_version"] == 1

    # Pressing again (a reload, a double click) sends nothing more.
    again = (await session_svc.post(f"/internal/join/{sid}/start", headers=candidate)).json()
    assert again["dispatchedAt"] == pressed["dispatchedAt"]
    shown = (await session_svc.get(f"/api/voice/sessions/{sid}{q}", headers=h)).json()
    assert shown["dispatchedAt"] == pressed["dispatchedAt"] and shown["status"] == "ready"
    await asyncio.sleep(0.5)
    assert len(event_log.of(sid, "session.dispatched")) == 1


async def test_a_manager_dispatches_only_a_ready_session(session_svc, token, org, event_log) -> None:  # type: ignore[no-untyped-def]
    h = auth(token(org, "org_admin"))
    created = await new_session(session_svc, org, h)
    sid, q = created["id"], f"?orgId={org}"
    r = await session_svc.post(f"/api/voice/sessions/{sid}/dispatch{q}", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_not_started", r.text
    await session_svc.post(f"/api/voice/sessions/{sid}/start{q}", headers=h)
    viewer = auth(token(org, "org_user", sub="someone-else"))
    r = await session_svc.post(f"/api/voice/sessions/{sid}/dispatch{q}", headers=viewer)
    assert r.status_code == 404, r.text  # not theirs: it does not exist for them
    r = await session_svc.post(f"/api/voice/sessions/{sid}/dispatch{q}", headers=h)
    assert r.status_code == 200 and r.json()["dispatchedAt"] is not None, r.text
    [job] = await event_log.wait_for(sid, "session.dispatched")
    assert job["payload"]["dispatched_by"] != f"candidate:{sid}"
    await session_svc.post(f"/api/voice/sessions/{sid}/cancel{q}", headers=h)
    r = await session_svc.post(f"/api/voice/sessions/{sid}/dispatch{q}", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_ended", r.text


async def test_the_orgs_concurrency_limit_refuses_a_start_beyond_it_in_words(  # type: ignore[no-untyped-def]
    session_svc, token, org
) -> None:
    h = auth(token(org, "org_admin"))
    r = await session_svc.put(f"/api/voice/settings?orgId={org}", headers=h,
                              json={"retentionDays": 30, "maxConcurrentInterviews": 1})
    assert r.status_code == 200 and r.json()["maxConcurrentInterviews"] == 1, r.text
    assert r.json()["maxConcurrentInterviewsIsDefault"] is False
    first, first_candidate = await invited(session_svc, org, h)
    second, second_candidate = await invited(session_svc, org, h)
    assert (await session_svc.post(f"/internal/join/{first['id']}/start", headers=first_candidate)).status_code == 200
    r = await session_svc.post(f"/internal/join/{second['id']}/start", headers=second_candidate)
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert error["code"] == "concurrency_limit" and "at most 1 interview at once" in error["message"]
    assert error["details"] == {"limit": 1, "running": 1, "retryable": True}
    # When the first ends, the second may start.
    await session_svc.post(f"/api/voice/sessions/{first['id']}/cancel?orgId={org}", headers=h)
    assert (await session_svc.post(f"/internal/join/{second['id']}/start", headers=second_candidate)).status_code == 200
    # Another org is not limited by this one.
    other = uuid.uuid4()
    oh = auth(token(other, "org_admin"))
    third, third_candidate = await invited(session_svc, other, oh)
    assert (await session_svc.post(f"/internal/join/{third['id']}/start", headers=third_candidate)).status_code == 200
    # Without its own limit, the org has the platform's.
    r = await session_svc.put(f"/api/voice/settings?orgId={org}", headers=h, json={"retentionDays": 30})
    assert r.json()["maxConcurrentInterviewsIsDefault"] is True and r.json()["maxConcurrentInterviews"] >= 1


async def test_a_bot_that_waited_in_vain_lets_the_candidate_start_again(  # type: ignore[no-untyped-def]
    session_svc, token, org, publish, handled, event_log
) -> None:
    h = auth(token(org, "org_admin"))
    started, candidate = await invited(session_svc, org, h)
    sid = started["id"]
    await session_svc.post(f"/internal/join/{sid}/start", headers=candidate)
    released = envelope(BotReleased(session_id=uuid.UUID(sid), bot_id="bot-test", reason="candidate_no_show"),
                        org_id=org, session_id=uuid.UUID(sid))
    await publish(released)
    await handled("session_svc", "session-svc.bot-released", released.event_id)
    info = (await session_svc.get(f"/internal/join/{sid}", headers=candidate)).json()
    assert info["status"] == "ready" and info["dispatchedAt"] is None
    again = (await session_svc.post(f"/internal/join/{sid}/start", headers=candidate)).json()
    assert again["dispatchedAt"] is not None
    jobs = await event_log.wait_for(sid, "session.dispatched", count=2)
    assert [j["payload"]["attempt"] for j in jobs] == [1, 2]


async def test_a_link_past_its_deadline_ends_the_session_link_expired(  # type: ignore[no-untyped-def]
    session_svc, session_svc_app, token, org, event_log
) -> None:
    h = auth(token(org, "org_admin"))
    q = f"?orgId={org}"
    r = await session_svc.post(f"/api/voice/sessions{q}", headers=h, json={
        "configId": (await session_svc.post(f"/api/voice/configs{q}", json=config_body(), headers=h)).json()["id"],
        "interviewType": "technical", "candidateName": "Late Larry", "candidateEmail": "larry@example.com",
        "joinDeadline": "2020-01-01T00:00:00Z"})
    assert r.status_code == 422 and "future" in r.text, r.text

    pressed, candidate = await invited(session_svc, org, h, joinDeadline=later(seconds=2))
    idle, _ = await invited(session_svc, org, h, joinDeadline=later(seconds=2))
    kept, _ = await invited(session_svc, org, h, joinDeadline=later(hours=1))
    await asyncio.sleep(2.5)

    # The candidate who comes too late is told so, and the session ends.
    r = await session_svc.post(f"/internal/join/{pressed['id']}/start", headers=candidate)
    assert r.status_code == 410 and r.json()["error"]["code"] == "link_expired", r.text
    [ended] = await event_log.wait_for(pressed["id"], "session.ended")
    assert ended["payload"]["status"] == "failed" and ended["payload"]["reason"] == "link_expired"

    # One nobody opened is ended by the sweeper; one still in time is left alone.
    sweeper = LinkExpiry(session_svc_app.state.sessions, session_svc_app.state.settings)
    assert await sweeper.sweep_once() >= 1
    [ended] = await event_log.wait_for(idle["id"], "session.ended")
    assert ended["payload"]["reason"] == "link_expired"
    shown = (await session_svc.get(f"/api/voice/sessions/{idle['id']}{q}", headers=h)).json()
    assert (shown["status"], shown["statusReason"], shown["joinUrl"]) == ("failed", "link_expired", None)
    assert (await session_svc.get(f"/api/voice/sessions/{kept['id']}{q}", headers=h)).json()["status"] == "ready"

    # A ready session's deadline may move; an ended one's may not.
    r = await session_svc.patch(f"/api/voice/sessions/{kept['id']}{q}", headers=h,
                                json={"joinDeadline": later(days=2)})
    assert r.status_code == 200 and r.json()["joinDeadline"] == r.json()["joinUrlExpiresAt"], r.text
    r = await session_svc.patch(f"/api/voice/sessions/{idle['id']}{q}", headers=h,
                                json={"joinDeadline": later(days=2)})
    assert r.status_code == 409 and r.json()["error"]["code"] == "join_deadline_fixed", r.text
