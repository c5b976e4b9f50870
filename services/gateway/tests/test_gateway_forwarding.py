"""The gateway against a real stand-in for session-svc: what is relayed, what is stopped at the edge."""

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.app import create_app
from gateway.settings import GatewaySettings
from voice_shared.auth import Role, mint_dev_token
from voice_shared.testing import auth, config_body, serving, session_body

MAX_BODY = 16 * 1024


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingUpstream:
    """An ASGI app in session-svc's place: records every request and gives the answer it is told."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.answer(200, {"echo": True})

    def answer(self, status: int, body: Any = None, media_type: str = "application/json") -> None:
        content = json.dumps(body).encode() if media_type == "application/json" and body is not None else body
        self.reply = (status, content or b"", media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        self.seen.append(Seen(request.method, request.url.path, scope["query_string"].decode(),
                              dict(request.headers), await request.body()))
        status, content, media_type = self.reply
        await Response(content or None, status_code=status, media_type=media_type)(scope, receive, send)


@asynccontextmanager
async def running_gateway(
    settings: GatewaySettings, upstream: httpx.AsyncClient | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a gateway app whose lifespan is running."""
    app = create_app(settings, upstreams={"session-svc": upstream} if upstream else None)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client




def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings() -> GatewaySettings:
    return GatewaySettings(environment="test", max_body_bytes=MAX_BODY, json_logs=True)


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def admin(settings: GatewaySettings, org: uuid.UUID) -> dict[str, str]:
    return auth(mint_dev_token(settings, "admin-1", {org: Role.org_admin}))


@pytest.fixture
def upstream() -> RecordingUpstream:
    return RecordingUpstream()


@pytest.fixture
async def client(settings: GatewaySettings, upstream: RecordingUpstream) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=upstream)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://session-svc") as to_upstream,
        running_gateway(settings, to_upstream) as gateway,
    ):
        yield gateway


# --- what is relayed ----------------------------------------------------------------------------


async def test_relays_method_path_query_body_token_and_correlation_id(client, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    upstream.answer(201, {"id": "c1", "version": 1})
    body = config_body()
    r = await client.post(f"/api/voice/configs?orgId={org}", json=body,
                          headers={**admin, "X-Correlation-ID": "corr-42"})
    assert (r.status_code, r.json()) == (201, {"id": "c1", "version": 1})
    assert r.headers["x-correlation-id"] == "corr-42"
    [seen] = upstream.seen
    assert (seen.method, seen.path, seen.query) == ("POST", "/api/voice/configs", f"orgId={org}")
    assert seen.headers["authorization"] == admin["Authorization"]
    assert seen.headers["x-correlation-id"] == "corr-42"
    assert seen.headers["content-type"] == "application/json"
    assert seen.json() == body


async def test_a_correlation_id_is_made_when_the_caller_sends_none(client, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(f"/api/voice/stats?orgId={org}", headers=admin)
    assert r.status_code == 200
    assert upstream.seen[0].headers["x-correlation-id"] == r.headers["x-correlation-id"] != ""


async def test_a_patch_relays_only_the_fields_sent(client, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    await client.patch(f"/api/voice/configs/{uuid.uuid4()}?orgId={org}", headers=admin,
                       json={"active": False, "description": ""})
    assert upstream.seen[0].json() == {"active": False, "description": ""}


async def test_the_query_string_is_relayed_as_sent(client, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    query = (f"orgId={org}&status=active&candidate=Jos%C3%A9+Ng&limit=5"
             "&createdFrom=2024-01-01T00%3A00%3A00Z")
    r = await client.get(f"/api/voice/sessions?{query}", headers=admin)
    assert r.status_code == 200
    assert upstream.seen[0].query == query


async def test_transitions_relay_an_absent_body_as_absent(client, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    sid = uuid.uuid4()
    await client.post(f"/api/voice/sessions/{sid}/start?orgId={org}", headers=admin)
    await client.post(f"/api/voice/sessions/{sid}/cancel?orgId={org}", headers=admin, json={"reason": "withdrew"})
    assert [s.body for s in upstream.seen] == [b"", b'{"reason":"withdrew"}']
    assert "content-type" not in upstream.seen[0].headers


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422, 500, 503])
async def test_upstream_errors_are_relayed_unchanged(client, upstream, admin, org, status) -> None:  # type: ignore[no-untyped-def]
    error = {"error": {"code": "config_in_use", "message": "Deactivate it instead.", "details": {"n": 2}}}
    upstream.answer(status, error)
    r = await client.delete(f"/api/voice/configs/{uuid.uuid4()}?orgId={org}", headers=admin)
    assert (r.status_code, r.json()) == (status, error)


async def test_no_content_is_relayed_empty(client, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    upstream.answer(204)
    r = await client.delete(f"/api/voice/sessions/{uuid.uuid4()}?orgId={org}", headers=admin)
    assert (r.status_code, r.content) == (204, b"")


async def test_an_upstream_answer_that_is_not_json_is_a_502(client, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    upstream.answer(502, b"<html>Bad Gateway</html>", media_type="text/html")
    r = await client.get(f"/api/voice/kbs?orgId={org}", headers=admin)
    assert r.status_code == 502 and r.json()["error"]["code"] == "bad_gateway"
    assert "html" not in r.text


# --- when session-svc cannot be reached -----------------------------------------------------------


async def test_upstream_refusing_connections_is_a_503(settings, admin, org) -> None:  # type: ignore[no-untyped-def]
    settings.session_svc_url = f"http://127.0.0.1:{free_port()}"
    async with running_gateway(settings) as client:
        r = await client.get(f"/api/voice/configs?orgId={org}", headers=admin)
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "upstream_unavailable"
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "session_svc" in ready.json()["failures"]


async def test_upstream_not_answering_in_time_is_a_503(settings, admin, org) -> None:  # type: ignore[no-untyped-def]
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        settings.session_svc_url, settings.upstream_timeout_seconds = f"http://127.0.0.1:{port}", 0.3
        async with running_gateway(settings) as client:
            r = await client.post(f"/api/voice/sessions?orgId={org}", headers=admin,
                                  json=session_body(str(uuid.uuid4())))
        assert r.status_code == 503 and r.json()["error"]["code"] == "upstream_unavailable"
        assert accepted, "the request reached the socket and then timed out"
        for writer in accepted:
            writer.close()


async def test_its_own_client_reaches_session_svc_over_http_and_is_closed(settings, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    async with serving(upstream) as url:
        settings.session_svc_url = url
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                r = await client.get(f"/api/voice/configs/{uuid.uuid4()}?orgId={org}", headers=admin)
                assert (r.status_code, r.json()) == (200, {"echo": True})
                assert (await client.get("/readyz")).json() == {"status": "ready"}
            own_client = app.state.upstreams["session-svc"]
        assert own_client.is_closed
    assert upstream.seen[0].headers["authorization"] == admin["Authorization"]


async def test_an_injected_client_is_left_open(settings) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=RecordingUpstream())) as injected:
        async with running_gateway(settings, injected):
            pass
        assert not injected.is_closed


# --- what is stopped at the edge ------------------------------------------------------------------


def bad_tokens(settings: GatewaySettings, org: uuid.UUID) -> dict[str, dict[str, str]]:
    claims = {"sub": "mallory", "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
              "exp": 2**31, "orgs": {str(org): "org_owner"}}
    return {
        "none": {},
        "not_bearer": {"Authorization": "Basic bWFsbG9yeTpwdw=="},
        "garbage": auth("not-a-jwt"),
        "expired": auth(mint_dev_token(settings, "admin-1", {org: Role.org_admin}, ttl_seconds=-60)),
        "other_key": auth(jwt.encode(claims, "another-secret-of-at-least-32-bytes!", algorithm="HS256")),
        "alg_none": auth(jwt.encode(claims, None, algorithm="none")),  # type: ignore[arg-type]
        "wrong_audience": auth(jwt.encode({**claims, "aud": "elsewhere"},
                                          settings.jwt_secret.get_secret_value(), algorithm="HS256")),
    }


@pytest.mark.parametrize("kind", ["none", "not_bearer", "garbage", "expired", "other_key", "alg_none",
                                  "wrong_audience"])
async def test_a_bad_token_is_a_401_before_any_upstream_call(client, upstream, settings, org, kind) -> None:  # type: ignore[no-untyped-def]
    headers = bad_tokens(settings, org)[kind]
    for method, path, body in [
        ("GET", f"/api/voice/sessions?orgId={org}", None),
        ("POST", f"/api/voice/configs?orgId={org}", config_body()),
        ("POST", f"/api/voice/kbs?orgId={org}", {"name": 7, "surprise": True}),  # 401 before 422
        ("DELETE", "/api/voice/configs/not-a-uuid", None),
    ]:
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["error"]["code"] in {"missing_token", "invalid_token", "token_expired"}
    assert upstream.seen == []


async def test_malformed_json_is_a_400(client, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/voice/kbs?orgId={org}", content=b'{"name": "Handbook",',
                          headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    assert upstream.seen == []


async def test_an_unknown_field_is_a_422_naming_it(client, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/voice/sessions?orgId={org}", headers=admin,
                          json=session_body(str(uuid.uuid4()), roomToken="leak"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    assert "roomToken" in r.json()["error"]["message"]
    assert upstream.seen == []


async def test_text_that_is_not_unicode_is_a_422(client, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    r = await client.patch(f"/api/voice/sessions/{uuid.uuid4()}?orgId={org}", headers={
        **admin, "Content-Type": "application/json"}, content=b'{"metadata": {"note": "\\ud800"}}')
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_text"
    assert upstream.seen == []


async def test_an_oversized_body_is_a_413(client, upstream, admin, org) -> None:  # type: ignore[no-untyped-def]
    body = {"filename": "big.txt", "text": "x" * (MAX_BODY + 1)}
    r = await client.post(f"/api/voice/kbs/{uuid.uuid4()}/documents?orgId={org}", json=body, headers=admin)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert upstream.seen == []


@pytest.mark.parametrize("path", [
    "/api/voice/configs/not-a-uuid?orgId={org}",
    "/api/voice/sessions/{org}?orgId=not-a-uuid",
    "/api/voice/sessions/{org}",
    "/api/voice/configs/{org}/versions/0?orgId={org}",
    "/api/voice/sessions?orgId={org}&status=sleeping",
    "/api/voice/sessions?orgId={org}&limit=201",
    "/api/voice/kbs/{org}/search?orgId={org}",
])
async def test_bad_parameters_are_a_422(client, upstream, admin, org, path) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(path.format(org=org), headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    assert upstream.seen == []


@pytest.mark.parametrize("path", ["/api/voice/internal/sessions/x/bot-events", "/internal/search"])
async def test_internal_routes_are_not_exposed(client, upstream, admin, path) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(path, headers=admin, json={})
    assert r.status_code == 404
    assert upstream.seen == []


async def test_server_timing_says_where_the_time_went(gateway, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    answer = await gateway.get(f"/api/voice/sessions?orgId={org}", headers=auth(token(org, "org_admin")))
    timings = dict(entry.strip().split(";dur=") for entry in answer.headers["server-timing"].split(","))
    assert set(timings) == {"gateway", "gateway-db", "session-svc", "session-svc-db"}
    assert float(timings["gateway"]) >= float(timings["session-svc"]) >= float(timings["session-svc-db"]) > 0
