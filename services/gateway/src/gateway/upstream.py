"""The one way a public request reaches a service (session-svc, transcript-svc, analytics-svc, bot-orchestrator):
relayed as sent, answered as answered."""

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote_from_bytes

import httpx
import structlog
from fastapi import Request, Response
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError
from starlette.requests import HTTPConnection

from gateway.settings import GatewaySettings
from voice_shared.errors import AppError, ServiceUnavailable, ValidationFailed

log = structlog.get_logger()

CORRELATION_HEADER = "X-Correlation-ID"
QUERY_SAFE = "!$&'()*+,/:;=?@[]%"  # delimiters and existing escapes pass unchanged


class UpstreamUnavailable(ServiceUnavailable):
    code = "upstream_unavailable"


class BadGateway(AppError):
    status, code = 502, "bad_gateway"


Upstream = Literal["session-svc", "transcript-svc", "analytics-svc", "bot-orchestrator"]
UPSTREAMS: tuple[Upstream, ...] = ("session-svc", "transcript-svc", "analytics-svc", "bot-orchestrator")

# Idle pooled connections are dropped before uvicorn's keep-alive (5 s) closes them from its side.
KEEPALIVE_EXPIRY_SECONDS = 2.0
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def open_client(settings: GatewaySettings, upstream: Upstream) -> httpx.AsyncClient:
    """The pooled client of an upstream; the app's lifespan closes it."""
    url = {"session-svc": settings.session_svc_url, "transcript-svc": settings.transcript_svc_url,
           "analytics-svc": settings.analytics_svc_url, "bot-orchestrator": settings.bot_orchestrator_url}[upstream]
    return httpx.AsyncClient(
        base_url=url,
        timeout=settings.upstream_timeout_seconds,
        limits=httpx.Limits(max_connections=settings.upstream_max_connections,
                            keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS),
    )


def client_of(connection: HTTPConnection, upstream: Upstream = "session-svc") -> httpx.AsyncClient:
    clients: Mapping[Upstream, httpx.AsyncClient] = connection.app.state.upstreams
    return clients[upstream]


async def send(
    client: httpx.AsyncClient, method: str, url: httpx.URL | str, *, upstream: Upstream = "session-svc", **kwargs: Any
) -> httpx.Response:
    """One request to an upstream; ``UpstreamUnavailable`` when it does not answer.

    A pooled connection that the other side closed just as it was reused fails before any answer
    (``RemoteProtocolError``): an idempotent request is sent once more on a fresh connection.
    """
    retries = 1 if method.upper() in IDEMPOTENT else 0
    while True:
        try:
            return await client.request(method, url, **kwargs)
        except httpx.RemoteProtocolError as e:
            if retries:
                retries -= 1
                log.info("upstream_connection_reset_retried", upstream=upstream)
                continue
            error: httpx.TransportError = e
        except httpx.TransportError as e:
            error = e
        log.warning("upstream_unavailable", upstream=upstream, error=f"{type(error).__name__}: {error}")
        raise UpstreamUnavailable(
            f"{upstream} did not answer; try again shortly.", details={"upstream": upstream}
        ) from error


def _ascii(query: bytes) -> bytes:
    """The caller's query as sent, with any raw non-ASCII bytes percent-encoded (httpx needs ASCII)."""
    return quote_from_bytes(query, safe=QUERY_SAFE).encode()


def _json(body: BaseModel) -> str:
    try:
        return body.model_dump_json(by_alias=True, exclude_unset=True)
    except PydanticSerializationError as e:
        # Free-form JSON (metadata, provider options) can hold a lone surrogate, which is not text.
        raise ValidationFailed("The body holds text that is not valid Unicode.",
                               code="invalid_text") from e


async def forward(
    request: Request, body: BaseModel | None = None, *, to: Upstream = "session-svc", download: bool = False
) -> Response:
    """Send the caller's method, path, query, body and identity to an upstream; relay its answer.

    With ``download``, a successful answer is a file (any content type, its Content-Disposition kept);
    otherwise every answer must be JSON."""
    client = client_of(request, to)
    headers = {CORRELATION_HEADER: request.state.correlation_id}
    if authorization := request.headers.get("authorization"):
        headers["Authorization"] = authorization
    content = None
    if body is not None:
        # The validated model, not the raw bytes: session-svc sees only what passed the edge, and
        # unset fields stay unset so a PATCH changes only what the caller named.
        content = _json(body)
        headers["Content-Type"] = "application/json"
    url = httpx.URL(path=request.url.path, query=_ascii(request.scope["query_string"]) or None)
    answer = await send(client, request.method, url, upstream=to, content=content, headers=headers)
    media_type = answer.headers.get("content-type")
    is_file = download and answer.status_code == 200
    if answer.content and not is_file and not (media_type or "").startswith("application/json"):
        # A proxy's error page must not leak through as if it were the platform's answer.
        log.warning("upstream_not_json", upstream=to, status=answer.status_code, content_type=media_type)
        raise BadGateway(f"{to} gave an answer that is not JSON.",
                         details={"upstream": to, "status": answer.status_code})
    # The upstream's Server-Timing goes on to the caller; the gateway's own entry is added beside it.
    passed = {name: value for name in ("server-timing", *(("content-disposition",) if is_file else ()))
              if (value := answer.headers.get(name))}
    return Response(answer.content or None, status_code=answer.status_code, media_type=media_type, headers=passed)
