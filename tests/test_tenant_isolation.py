"""Tenant isolation through the gateway, for every endpoint: outsiders get no data and change nothing."""

import time
import uuid
from typing import Any

import jwt
import pytest
from sqlalchemy import text

from voice_shared.bus import subscription
from voice_shared.db import make_engine
from voice_shared.testing import auth, config_body, session_body

TENANT_TABLES = ["voice_configs", "voice_config_versions", "voice_sessions", "voice_shares",
                 "knowledge_bases", "kb_documents", "kb_chunks", "voice_session_kbs", "voice_session_transcripts",
                 "voice_session_analytics", "voice_org_settings", "voice_erasures"]


@pytest.fixture(scope="module")
async def victim(gateway, token, publish, segment_event, event_log, handled) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Org A with one of everything, a finished interview's transcript included."""
    org = uuid.uuid4()
    admin = token(org, "org_admin", sub="victim-admin")
    h = auth(admin)
    config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=h)).json()
    kb = (await gateway.post(f"/api/voice/kbs?orgId={org}", json={"name": "Handbook"}, headers=h)).json()
    doc = (await gateway.post(f"/api/voice/kbs/{kb['id']}/documents?orgId={org}", headers=h,
                              json={"filename": "a.md", "contentType": "text/markdown",
                                    "text": "# Secret\nThe launch code is tangerine."})).json()
    session = (await gateway.post(f"/api/voice/sessions?orgId={org}", headers=h,
                                  json=session_body(config["id"], kbIds=[kb["id"]]))).json()
    share = (await gateway.post(f"/api/voice/sessions/{session['id']}/shares?orgId={org}", headers=h,
                                json={"userId": "someone", "level": "view"})).json()
    ended = (await gateway.post(f"/api/voice/sessions?orgId={org}", headers=h,
                                json=session_body(config["id"]))).json()
    said = segment_event(org, uuid.UUID(ended["id"]), 0, text="The launch code is tangerine.")
    await publish(said)
    await handled("transcript_svc", subscription("transcript-svc", "segments").consumer, said.event_id)
    await gateway.post(f"/api/voice/sessions/{ended['id']}/cancel?orgId={org}", headers=h)
    (completed,) = await event_log.wait_for(ended["id"], "transcript.completed")
    return {"org": org, "admin": admin, "config": config["id"], "kb": kb["id"], "doc": doc["id"],
            "session": session["id"], "share": share["id"], "transcript": completed["payload"]["transcript_id"]}


def endpoints(v: dict[str, Any]) -> list[tuple[str, str, Any]]:
    o, c, s, k, d, sh, t = v["org"], v["config"], v["session"], v["kb"], v["doc"], v["share"], v["transcript"]
    q = f"?orgId={o}"
    return [
        ("POST", f"/api/voice/configs{q}", config_body()),
        ("GET", f"/api/voice/configs{q}", None),
        ("GET", f"/api/voice/configs/{c}{q}", None),
        ("PATCH", f"/api/voice/configs/{c}{q}", {"active": False}),
        ("DELETE", f"/api/voice/configs/{c}{q}", None),
        ("GET", f"/api/voice/configs/{c}/versions/1{q}", None),
        ("POST", f"/api/voice/sessions{q}", session_body(c)),
        ("GET", f"/api/voice/sessions{q}", None),
        ("GET", f"/api/voice/sessions/{s}{q}", None),
        ("PATCH", f"/api/voice/sessions/{s}{q}", {"candidateName": "Mallory"}),
        ("DELETE", f"/api/voice/sessions/{s}{q}", None),
        ("POST", f"/api/voice/sessions/{s}/start{q}", None),
        ("POST", f"/api/voice/sessions/{s}/end{q}", None),
        ("POST", f"/api/voice/sessions/{s}/cancel{q}", None),
        ("GET", f"/api/voice/sessions/{s}/kbs{q}", None),
        ("POST", f"/api/voice/sessions/{s}/kbs{q}", {"kbId": k}),
        ("PATCH", f"/api/voice/sessions/{s}/kbs/{k}{q}", {"enabled": False}),
        ("DELETE", f"/api/voice/sessions/{s}/kbs/{k}{q}", None),
        ("GET", f"/api/voice/sessions/{s}/shares{q}", None),
        ("POST", f"/api/voice/sessions/{s}/shares{q}", {"userId": "mallory", "level": "view_analytics"}),
        ("DELETE", f"/api/voice/sessions/{s}/shares/{sh}{q}", None),
        ("POST", f"/api/voice/kbs{q}", {"name": "Mallory's"}),
        ("GET", f"/api/voice/kbs{q}", None),
        ("GET", f"/api/voice/kbs/{k}{q}", None),
        ("DELETE", f"/api/voice/kbs/{k}{q}", None),
        ("POST", f"/api/voice/kbs/{k}/documents{q}", {"filename": "x.txt", "text": "x"}),
        ("GET", f"/api/voice/kbs/{k}/documents{q}", None),
        ("DELETE", f"/api/voice/kbs/{k}/documents/{d}{q}", None),
        ("GET", f"/api/voice/kbs/{k}/search{q}&q=launch+code", None),
        ("GET", f"/api/voice/stats{q}", None),
        ("GET", f"/api/voice/transcripts{q}", None),
        ("GET", f"/api/voice/transcripts/{t}{q}", None),
        ("GET", f"/api/voice/transcripts/{t}{q}&includeText=true", None),
        ("GET", f"/api/voice/transcripts/{t}/export{q}&format=txt", None),
        ("DELETE", f"/api/voice/transcripts/{t}{q}", None),
    ]


def bad_callers(token, base_settings) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    other = uuid.uuid4()
    now = int(time.time())
    claims = {"sub": "mallory", "iss": base_settings.jwt_issuer, "aud": base_settings.jwt_audience,
              "iat": now, "exp": now + 600, "orgs": {}}
    none_token = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    return {
        "member_of_other_org": auth(token(other, "org_user")),
        "admin_of_other_org": auth(token(other, "org_admin")),
        "owner_of_other_org": auth(token(other, "org_owner")),
        "platform_admin_without_membership": auth(token(None, platform_admin=True)),
        "no_token": {},
        "expired_token": auth(token(other, "org_owner", ttl_seconds=-60)),
        "token_signed_with_another_key": auth(jwt.encode(claims, "another-secret-of-32-bytes-or-more!",
                                                         algorithm="HS256")),
        "alg_none": auth(none_token),
    }


async def snapshot(gateway, v) -> list[Any]:  # type: ignore[no-untyped-def]
    """Everything the victim's admin can see, to prove nothing changed."""
    h, q = auth(v["admin"]), f"?orgId={v['org']}"
    paths = [f"/api/voice/configs/{v['config']}{q}", f"/api/voice/sessions/{v['session']}{q}",
             f"/api/voice/sessions/{v['session']}/kbs{q}", f"/api/voice/sessions/{v['session']}/shares{q}",
             f"/api/voice/kbs/{v['kb']}{q}", f"/api/voice/kbs/{v['kb']}/documents{q}",
             f"/api/voice/configs{q}", f"/api/voice/sessions{q}", f"/api/voice/kbs{q}",
             f"/api/voice/transcripts{q}", f"/api/voice/transcripts/{v['transcript']}{q}&includeText=true"]
    return [(await gateway.get(p, headers=h)).json() for p in paths]


async def test_outsiders_get_nothing_and_change_nothing(gateway, token, base_settings, victim) -> None:  # type: ignore[no-untyped-def]
    before = await snapshot(gateway, victim)
    secrets = [str(victim[k]) for k in ("config", "session", "kb", "doc", "share", "transcript")] + ["tangerine"]
    failures = []
    for who, headers in bad_callers(token, base_settings).items():
        for method, path, body in endpoints(victim):
            r = await gateway.request(method, path, json=body, headers=headers)
            expected = 404 if headers and who.endswith(("org", "membership")) else 401
            if r.status_code != expected or any(x in r.text for x in secrets):
                failures.append(f"{who} {method} {path} -> {r.status_code} {r.text[:120]}")
            if r.status_code < 500:
                assert r.json()["error"]["code"]
    assert not failures, "\n".join(failures)
    assert await snapshot(gateway, victim) == before


async def test_lists_never_contain_another_orgs_ids(gateway, token, victim) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin = auth(token(org, "org_owner"))
    config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]), headers=admin)
    for path in ("configs", "sessions", "kbs", "transcripts"):
        r = await gateway.get(f"/api/voice/{path}?orgId={org}", headers=admin)
        assert r.status_code == 200
        assert all(item.get("orgId", str(org)) == str(org) for item in r.json()["items"])
        assert str(victim["org"]) not in r.text
    stats = (await gateway.get(f"/api/voice/stats?orgId={org}", headers=admin)).json()
    assert stats["total"] == 1


async def test_a_session_link_to_another_orgs_kb_is_refused(gateway, token, victim) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    r = await gateway.post(f"/api/voice/sessions?orgId={org}", headers=admin,
                           json=session_body(config["id"], kbIds=[victim["kb"]]))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "kb_not_found"


async def test_app_role_without_tenant_sees_no_rows(platform_env, victim) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(platform_env["database_url"], 1)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("select current_user"))).scalar_one() == "voice_app"
            for table in TENANT_TABLES:
                n = (await conn.execute(text(f"select count(*) from session_svc.{table}"))).scalar_one()
                assert n == 0, f"{table} leaked {n} rows without a tenant"
            await conn.execute(text("select set_config('app.org_id', :o, false)"), {"o": str(victim["org"])})
            n = (await conn.execute(text("select count(*) from session_svc.voice_sessions"))).scalar_one()
            assert n >= 1  # the same role with the tenant set does see them
    finally:
        await engine.dispose()


async def test_app_role_cannot_read_any_orgs_events_from_the_outbox_or_the_inbox(  # type: ignore[no-untyped-def]
    platform_env, victim
) -> None:
    from sqlalchemy.exc import ProgrammingError

    from voice_shared.outbox import RELAY_SETTING

    for schema in ("session_svc", "transcript_svc"):
        engine = make_engine(platform_env["database_url"], 1)
        try:
            async with engine.connect() as conn:
                n = (await conn.execute(text(f"select count(*) from {schema}.outbox"))).scalar_one()
                assert n == 0, f"{schema}.outbox shows {n} rows to a query without the relay's flag"
                await conn.execute(text("select set_config('app.org_id', :o, false)"), {"o": str(victim["org"])})
                assert (await conn.execute(text(f"select count(*) from {schema}.outbox"))).scalar_one() == 0
                with pytest.raises(ProgrammingError, match="permission denied"):
                    await conn.execute(text(f"select count(*) from {schema}.inbox"))
            async with engine.connect() as conn:  # the relay, which says so, sees the rows
                await conn.execute(text("select set_config(:s, 'on', false)"), {"s": RELAY_SETTING})
                if schema == "session_svc":
                    assert (await conn.execute(text(f"select count(*) from {schema}.outbox"))).scalar_one() > 0
        finally:
            await engine.dispose()
