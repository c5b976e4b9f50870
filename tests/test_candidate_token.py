"""A candidate's join token grants its join page, its consent and its WebRTC offer, nothing else.

Every operation in the gateway's and session-svc's OpenAPI documents is called with a valid join
token, so a route added later is covered without editing this test.
"""

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from voice_shared.testing import auth, config_body, session_body

# Built for candidates: they accept the join token, for its own session only.
CANDIDATE_OPERATIONS = {("post", "/api/voice/sessions/{session_id}/webrtc/offer")}
CANDIDATE_PREFIXES = ("/internal/join/",)
# A signed download link is its own credential; no bearer token is looked at (a join token is not one).
SIGNED_LINKS = {("get", "/api/voice/recordings/{token}")}

BODIES = {  # a valid body where the schema is known, so refusal is not a validation failure
    "ConfigCreate": config_body, "ConfigUpdate": lambda: {"active": False},
    "SessionUpdate": lambda: {"candidateName": "Mallory"}, "ShareCreate": lambda: {"userId": "m", "level": "view"},
    "KbCreate": lambda: {"name": "Mallory's"}, "KbLinkUpdate": lambda: {"enabled": False},
    "DocumentCreate": lambda: {"filename": "x.txt", "text": "x"},
}


@pytest.fixture(scope="module")
async def candidate(gateway, token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A session of org A, and the join token its manager was given."""
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    q = f"?orgId={org}"
    config = (await gateway.post(f"/api/voice/configs{q}", json=config_body(), headers=admin)).json()
    kb = (await gateway.post(f"/api/voice/kbs{q}", json={"name": "Handbook"}, headers=admin)).json()
    session = (await gateway.post(f"/api/voice/sessions{q}", json=session_body(config["id"], kbIds=[kb["id"]]),
                                  headers=admin)).json()
    other = (await gateway.post(f"/api/voice/sessions{q}", json=session_body(config["id"]), headers=admin)).json()
    join_token = urlsplit(session["joinUrl"]).path.removeprefix("/join/")
    return {"org": org, "admin": admin, "token": join_token, "session": session["id"], "other": other["id"],
            "values": {"session_id": session["id"], "config_id": config["id"], "kb_id": kb["id"],
                       "version": "1"}}


def operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in openapi["paths"].items() for method, op in ops.items()]


def request_for(path: str, op: dict[str, Any], c: dict[str, Any]) -> tuple[str, dict[str, str], Any]:
    """A well-formed call aimed at the candidate's own session and org."""
    url = re.sub(r"\{(\w+)\}", lambda m: c["values"].get(m[1], str(uuid.uuid4())), path)
    query = {"orgId": str(c["org"])}
    for p in op.get("parameters", []):
        if p["in"] == "query" and p.get("required") and p["name"] != "orgId":
            query[p["name"]] = "x"
    body = None
    if "requestBody" in op:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        ref = str(schema.get("$ref") or next((s.get("$ref") for s in schema.get("anyOf", []) if "$ref" in s), ""))
        body = BODIES.get(ref.rsplit("/", 1)[-1], dict)()
    return url, query, body


async def snapshot(gateway, c) -> list[Any]:  # type: ignore[no-untyped-def]
    q = f"?orgId={c['org']}"
    paths = [f"/api/voice/sessions/{c['session']}{q}", f"/api/voice/sessions/{c['session']}/kbs{q}",
             f"/api/voice/sessions/{c['session']}/shares{q}", f"/api/voice/configs{q}", f"/api/voice/kbs{q}"]
    return [(await gateway.get(p, headers=c["admin"])).json() for p in paths]


async def test_a_join_token_is_refused_by_every_public_route(gateway, candidate) -> None:  # type: ignore[no-untyped-def]
    openapi = create_gateway(GatewaySettings(environment="test")).openapi()
    before = await snapshot(gateway, candidate)
    called, failures = 0, []
    for method, path, op in operations(openapi):
        if (method, path) in CANDIDATE_OPERATIONS:
            continue
        if (method, path) in SIGNED_LINKS:  # the join token itself as the link: it names nothing
            r = await gateway.get(path.replace("{token}", candidate["token"]), headers=auth(candidate["token"]))
            if (r.status_code, r.json()["error"]["code"]) != (404, "download_link_invalid"):
                failures.append(f"GET {path} with the join token as link -> {r.status_code} {r.text[:160]}")
            continue
        url, query, body = request_for(path, op, candidate)
        r = await gateway.request(method.upper(), url, params=query, json=body, headers=auth(candidate["token"]))
        called += 1
        if r.status_code != 401 or r.json()["error"]["code"] != "invalid_token":
            failures.append(f"{method.upper()} {url} -> {r.status_code} {r.text[:160]}")
    assert not failures, "\n".join(failures)
    assert called >= 30  # the whole API, not an empty document
    assert await snapshot(gateway, candidate) == before


async def test_a_join_token_is_refused_by_session_svc_itself(session_svc, session_svc_app, candidate) -> None:  # type: ignore[no-untyped-def]
    """Services verify again: the internal API takes the join token only on the join endpoints."""
    failures = []
    for method, path, op in operations(session_svc_app.openapi()):
        if path.startswith(CANDIDATE_PREFIXES):
            continue
        url, query, body = request_for(path, op, candidate)
        r = await session_svc.request(method.upper(), url, params=query, json=body,
                                      headers=auth(candidate["token"]))
        if r.status_code != 401:
            failures.append(f"{method.upper()} {url} -> {r.status_code} {r.text[:160]}")
    assert not failures, "\n".join(failures)


async def test_routes_built_for_candidates_take_the_token_for_its_own_session_only(gateway, candidate) -> None:  # type: ignore[no-untyped-def]
    openapi = create_gateway(GatewaySettings(environment="test")).openapi()
    present = {(m, p) for m, p, _ in operations(openapi)} & CANDIDATE_OPERATIONS
    for method, path in present:
        url = path.replace("{session_id}", candidate["other"])
        r = await gateway.request(method.upper(), url, headers=auth(candidate["token"]),
                                  json={"sdp": "v=0\r\n", "type": "offer"})
        assert r.status_code == 404, f"{url} -> {r.status_code} {r.text[:160]}"
    r = await gateway.get(f"/join/{candidate['token']}")
    assert r.status_code == 200 and "is an AI" in r.text
