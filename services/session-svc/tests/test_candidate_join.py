"""Join links (managers only), the join page's facts and the candidate's consent, against real Postgres."""

import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest

from voice_shared.join import JoinTokens
from voice_shared.testing import auth, config_body, session_body


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


async def new_session(client, org, headers, config_overrides=None, config_by=None, **overrides):  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/voice/configs?orgId={org}", json=config_body(**(config_overrides or {})),
                          headers=config_by or headers)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/voice/sessions?orgId={org}", json=session_body(r.json()["id"], **overrides),
                          headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def token_of(join_url: str) -> str:
    path = urlsplit(join_url).path
    assert path.startswith("/join/")
    return path.removeprefix("/join/")


def bearer(join_url: str) -> dict[str, str]:
    return auth(token_of(join_url))


async def test_managers_get_a_stable_join_link_that_start_renews_and_the_end_withdraws(  # type: ignore[no-untyped-def]
    session_svc, session_svc_app, token, org
) -> None:
    h = auth(token(org, "org_user", sub="recruiter"))
    created = await new_session(session_svc, org, h, config_by=auth(token(org, "org_admin")))
    sid, q = created["id"], f"?orgId={org}"
    settings = session_svc_app.state.settings
    assert created["joinUrl"].startswith(f"{settings.public_url}/join/")
    assert created["consentAt"] is None

    again = (await session_svc.get(f"/api/voice/sessions/{sid}{q}", headers=h)).json()
    assert again["joinUrl"] == created["joinUrl"]  # the same link on every read
    listed = (await session_svc.get(f"/api/voice/sessions{q}", headers=h)).json()["items"]
    assert [s["joinUrl"] for s in listed if s["id"] == sid] == [created["joinUrl"]]

    claims = JoinTokens(settings).verify(token_of(created["joinUrl"]))
    assert (str(claims.sid), str(claims.org), claims.role) == (sid, str(org), "candidate")
    assert claims.expires_at == datetime.fromisoformat(created["joinUrlExpiresAt"]).replace(microsecond=0)
    remaining = (claims.expires_at - datetime.now(UTC)).total_seconds() / 3600
    assert settings.join_token_ttl_hours - 1 < remaining <= settings.join_token_ttl_hours

    started = (await session_svc.post(f"/api/voice/sessions/{sid}/start{q}", headers=h)).json()
    assert started["status"] == "ready" and started["joinUrl"] not in (None, created["joinUrl"])
    cancelled = (await session_svc.post(f"/api/voice/sessions/{sid}/cancel{q}", headers=h)).json()
    assert cancelled["joinUrl"] is None and cancelled["joinUrlExpiresAt"] is None


async def test_viewers_never_see_the_join_link(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    workspace = uuid.uuid4()
    owner = auth(token(org, "org_user", sub="owner"))
    session = await new_session(session_svc, org, owner, config_by=auth(token(org, "org_admin")),
                                workspaceId=str(workspace), sharedWithWorkspace=True)
    sid, q = session["id"], f"?orgId={org}"
    r = await session_svc.post(f"/api/voice/sessions/{sid}/shares{q}", headers=owner,
                               json={"userId": "analyst", "level": "view_analytics"})
    assert r.status_code == 201
    viewers = {
        "share": auth(token(org, "org_user", sub="analyst")),
        "workspace": auth(token(org, "org_user", workspaces=[workspace])),
    }
    for who, h in viewers.items():
        one = (await session_svc.get(f"/api/voice/sessions/{sid}{q}", headers=h)).json()
        assert one["access"] != "manage" and one["joinUrl"] is None, who
        items = (await session_svc.get(f"/api/voice/sessions{q}", headers=h)).json()["items"]
        assert [s["joinUrl"] for s in items] == [None], who
    admin = auth(token(org, "org_admin"))
    assert (await session_svc.get(f"/api/voice/sessions/{sid}{q}", headers=admin)).json()["joinUrl"]


async def test_join_info_tells_the_candidate_what_the_page_needs(  # type: ignore[no-untyped-def]
    session_svc, session_svc_app, token, org
) -> None:
    h = auth(token(org, "org_admin"))
    session = await new_session(session_svc, org, h, {"botName": "Nova", "maxDurationMinutes": 25},
                                candidateName="Ada Lovelace", metadata={"companyName": "Analytical Engines"})
    r = await session_svc.get(f"/internal/join/{session['id']}", headers=bearer(session["joinUrl"]))
    assert r.status_code == 200, r.text
    info = r.json()
    assert info == {
        "sessionId": session["id"], "status": "pending", "candidateName": "Ada Lovelace",
        "interviewerName": "Nova", "companyName": "Analytical Engines", "language": "en",
        "maxDurationMinutes": 25, "transport": "local", "roomUrl": None, "meetingToken": None,
        "dataRetentionDays": session_svc_app.state.settings.data_retention_days,
        "consentAt": None, "consentTextVersion": None, "statusReason": None,
        "joinDeadline": None, "dispatchedAt": None, "queue": None,
    }
    assert session["candidateEmail"] not in r.text

    daily = await new_session(session_svc, org, h, {"providers": {"transport": "daily"}})
    info = (await session_svc.get(f"/internal/join/{daily['id']}", headers=bearer(daily["joinUrl"]))).json()
    assert (info["transport"], info["companyName"]) == ("daily", None)


async def test_consent_is_stored_once_and_refused_after_the_end(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    h = auth(token(org, "org_admin"))
    session = await new_session(session_svc, org, h)
    sid, candidate = session["id"], bearer(session["joinUrl"])
    body = {"agreed": True, "consentTextVersion": "2025-01"}

    r = await session_svc.post(f"/internal/join/{sid}/consent", json=body, headers=candidate)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["consentTextVersion"] == "2025-01"
    again = await session_svc.post(f"/internal/join/{sid}/consent", headers=candidate,
                                   json={**body, "consentTextVersion": "2099-09"})
    assert again.json() == first  # idempotent: the first consent stands
    shown = (await session_svc.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=h)).json()
    assert (shown["consentAt"], shown["consentTextVersion"]) == (first["consentAt"], "2025-01")
    info = (await session_svc.get(f"/internal/join/{sid}", headers=candidate)).json()
    assert info["consentAt"] == first["consentAt"]

    for bad in ({"consentTextVersion": "2025-01"}, {"agreed": False, "consentTextVersion": "2025-01"},
                {"agreed": True, "consentTextVersion": "<script>"}, {**body, "extra": 1}):
        r = await session_svc.post(f"/internal/join/{sid}/consent", json=bad, headers=candidate)
        assert r.status_code == 422, bad

    await session_svc.post(f"/api/voice/sessions/{sid}/cancel?orgId={org}", headers=h)
    r = await session_svc.post(f"/internal/join/{sid}/consent", json=body, headers=candidate)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "session_ended")
    info = (await session_svc.get(f"/internal/join/{sid}", headers=candidate)).json()
    assert info["status"] == "cancelled"  # the page says it has ended

    await session_svc.delete(f"/api/voice/sessions/{sid}?orgId={org}", headers=h)
    r = await session_svc.get(f"/internal/join/{sid}", headers=candidate)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "session_not_found")


async def test_the_internal_join_api_takes_only_the_token_of_that_session(  # type: ignore[no-untyped-def]
    session_svc, session_svc_app, token, org
) -> None:
    h = auth(token(org, "org_admin"))
    mine = await new_session(session_svc, org, h)
    other = await new_session(session_svc, org, h)
    body = {"agreed": True, "consentTextVersion": "2025-01"}
    candidate = bearer(mine["joinUrl"])
    for path in (f"/internal/join/{other['id']}", f"/internal/join/{other['id']}/consent"):
        method = "POST" if path.endswith("consent") else "GET"
        r = await session_svc.request(method, path, json=body if method == "POST" else None, headers=candidate)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "session_not_found"), path
        for user in (h, auth(token(org, "org_owner")), auth(token(None, service="gateway"))):
            r = await session_svc.request(method, path, json=body if method == "POST" else None, headers=user)
            assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_join_token"), path
    # A token naming another org cannot reach the session either (Row Level Security).
    forged, _ = JoinTokens(session_svc_app.state.settings).mint(
        uuid.UUID(mine["id"]), uuid.uuid4(), datetime.now(UTC))
    r = await session_svc.get(f"/internal/join/{mine['id']}", headers=auth(forged))
    assert r.status_code == 404
    shown = (await session_svc.get(f"/api/voice/sessions/{other['id']}?orgId={org}", headers=h)).json()
    assert shown["consentAt"] is None


async def test_a_daily_room_and_the_candidates_meeting_token_come_only_after_consent(  # type: ignore[no-untyped-def]
    platform_env, topology, token, org, fake_daily
) -> None:
    from session_svc.app import create_app
    from session_svc.settings import SessionSettings

    async def daily_key(*_: object) -> str:
        return fake_daily.api_key

    settings = SessionSettings(**platform_env, daily_api_url=fake_daily.url)  # type: ignore[arg-type]
    app = create_app(settings, room_secrets=daily_key)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://session-svc") as client,
    ):
        h = auth(token(org, "org_admin"))
        session = await new_session(client, org, h, {"providers": {"transport": "daily"}}, candidateName="Ada Lovelace")
        sid = session["id"]
        started = await client.post(f"/api/voice/sessions/{sid}/start?orgId={org}", headers=h)
        assert started.status_code == 200, started.text
        candidate = bearer(started.json()["joinUrl"])

        def minted() -> list[dict]:  # type: ignore[type-arg]
            return [c.body["properties"] for c in fake_daily.of("POST", "meeting-tokens")
                    if c.body["properties"]["room_name"].startswith(sid)]

        before = (await client.get(f"/internal/join/{sid}", headers=candidate)).json()
        assert (before["transport"], before["roomUrl"], before["meetingToken"]) == ("daily", None, None)
        assert minted() == []

        r = await client.post(f"/internal/join/{sid}/consent", headers=candidate,
                              json={"agreed": True, "consentTextVersion": "2025-01"})
        assert r.status_code == 200, r.text
        consent = r.json()
        assert consent["roomUrl"].startswith("https://") and sid in consent["roomUrl"]
        assert fake_daily.tokens[consent["meetingToken"]]["room_name"].startswith(sid)
        [props] = minted()
        assert props["user_name"] == "Ada Lovelace" and not props.get("is_owner")

        after = (await client.get(f"/internal/join/{sid}", headers=candidate)).json()
        assert after["roomUrl"] == consent["roomUrl"] and after["meetingToken"]
