"""The join page through the gateway, with session-svc behind it: what the candidate reads, the
consent it stores, and a readable page (never JSON) for every link that cannot be used."""

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.app import create_app
from gateway.join_page import CONSENT_TEXT_VERSION
from gateway.settings import GatewaySettings
from voice_shared.join import JoinTokens
from voice_shared.testing import auth, config_body, session_body


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


async def new_session(gateway, admin, org, config=None, **overrides):  # type: ignore[no-untyped-def]
    q = f"?orgId={org}"
    c = await gateway.post(f"/api/voice/configs{q}", json=config_body(**(config or {})), headers=admin)
    r = await gateway.post(f"/api/voice/sessions{q}", json=session_body(c.json()["id"], **overrides), headers=admin)
    assert r.status_code == 201, r.text
    session = r.json()
    session["path"] = urlsplit(session["joinUrl"]).path
    return session


def assert_page_headers(r: httpx.Response) -> None:
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in r.headers["content-security-policy"]


async def test_the_page_discloses_the_ai_the_recording_and_the_retention(gateway, token, org, base_settings) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin"))
    session = await new_session(gateway, admin, org, {"botName": "Nova", "maxDurationMinutes": 25},
                                candidateName="<b>Ada</b> & co", metadata={"companyName": "Engines Ltd"})
    r = await gateway.get(session["path"])
    assert r.status_code == 200, r.text
    assert_page_headers(r)
    page = r.text
    assert "Your interviewer, Nova, is an AI, not a person." in page
    assert "recorded and transcribed" in page
    assert f"kept for {base_settings.data_retention_days} days" in page
    assert "Engines Ltd" in page and "25 minutes" in page
    assert "&lt;b&gt;Ada&lt;/b&gt; &amp; co" in page and "<b>Ada</b>" not in page
    assert f'data-consent-version="{CONSENT_TEXT_VERSION}"' in page
    assert session["candidateEmail"] not in page
    assert f'"offerUrl": "/api/voice/sessions/{session["id"]}/webrtc/offer"' in page
    for asset, kind in (("join.js", "javascript"), ("join.css", "css")):
        a = await gateway.get(f"/join/assets/{asset}")
        assert a.status_code == 200 and kind in a.headers["content-type"]
    assert (await gateway.get("/join/assets/join.html")).status_code == 404


async def test_consent_through_the_gateway_is_stored_on_the_session(gateway, token, org) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin"))
    session = await new_session(gateway, admin, org)
    body = {"agreed": True, "consentTextVersion": CONSENT_TEXT_VERSION}
    r = await gateway.post(f"{session['path']}/consent", json=body)
    assert r.status_code == 200, r.text
    shown = (await gateway.get(f"/api/voice/sessions/{session['id']}?orgId={org}", headers=admin)).json()
    assert shown["consentAt"] == r.json()["consentAt"]
    assert shown["consentTextVersion"] == CONSENT_TEXT_VERSION
    page = (await gateway.get(session["path"])).text
    assert "You agreed on" in page and " checked>" in page

    r = await gateway.post(f"{session['path']}/consent", json={"consentTextVersion": CONSENT_TEXT_VERSION})
    assert r.status_code == 422  # no `agreed: true`, no consent
    r = await gateway.post("/join/not-a-token/consent", json=body)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_join_token")


async def test_unusable_links_get_a_readable_page(gateway, token, org, base_settings) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin"))
    tokens = JoinTokens(base_settings)
    cases = {}
    session = await new_session(gateway, admin, org)
    expired, _ = tokens.mint(uuid.UUID(session["id"]), org, datetime.now(UTC) - timedelta(days=30))
    cases["expired"] = (f"/join/{expired}", 401, "This link has expired")
    cases["garbage"] = ("/join/not-a-token", 404, "This link does not work")
    cases["user token"] = (f"/join/{token(org, 'org_owner')}", 404, "This link does not work")
    unknown, _ = tokens.mint(uuid.uuid4(), org, datetime.now(UTC))
    cases["no such session"] = (f"/join/{unknown}", 404, "This interview no longer exists")
    ended = await new_session(gateway, admin, org)
    await gateway.post(f"/api/voice/sessions/{ended['id']}/cancel?orgId={org}", headers=admin)
    cases["ended"] = (ended["path"], 410, "This interview has ended")
    deleted = await new_session(gateway, admin, org)
    await gateway.delete(f"/api/voice/sessions/{deleted['id']}?orgId={org}", headers=admin)
    cases["deleted"] = (deleted["path"], 404, "This interview no longer exists")
    for case, (path, status, title) in cases.items():
        r = await gateway.get(path)
        assert (r.status_code, f"<h1>{title}</h1>" in r.text) == (status, True), case
        assert_page_headers(r)


async def test_session_svc_down_is_a_readable_page(platform_env, base_settings) -> None:  # type: ignore[no-untyped-def]
    settings = GatewaySettings(**platform_env, session_svc_url="http://127.0.0.1:9")  # type: ignore[arg-type]
    app = create_app(settings)
    link, _ = JoinTokens(base_settings).mint(uuid.uuid4(), uuid.uuid4(), datetime.now(UTC))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client:
            r = await client.get(f"/join/{link}")
    assert r.status_code == 503 and "<h1>The interview service is busy</h1>" in r.text
