"""The FastAPI app factory every service uses: health, readiness, metrics, logging, errors."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from faststream.rabbit import RabbitBroker
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voice_shared.auth import TokenVerifier
from voice_shared.contracts.envelope import clean_correlation_id
from voice_shared.db import DATABASE_SECONDS
from voice_shared.errors import error_body, install_error_handlers, unexpected_response
from voice_shared.logging import configure_logging
from voice_shared.settings import ServiceSettings

log = structlog.get_logger()

ReadinessCheck = Callable[[], Awaitable[None]]


def database_ready(engine: AsyncEngine) -> ReadinessCheck:
    """A readiness check: the database answers a query."""

    async def database() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("select 1"))

    return database


def bus_ready(broker: RabbitBroker) -> ReadinessCheck:
    """A readiness check: RabbitMQ answers."""

    async def bus() -> None:
        if not await broker.ping(timeout=2.0):
            raise ConnectionError("RabbitMQ did not answer")

    return bus


READINESS_TIMEOUT_SECONDS = 2.0


async def _bounded(check: ReadinessCheck) -> tuple[str, str | None]:
    """The check's name and its failure in words (None if it passed within the timeout)."""
    name = getattr(check, "__name__", "check")
    try:
        await asyncio.wait_for(check(), READINESS_TIMEOUT_SECONDS)
    except TimeoutError:
        return name, f"no answer within {READINESS_TIMEOUT_SECONDS:g} s"
    except Exception as e:  # readiness reports every failure; it never raises
        return name, f"{type(e).__name__}: {e}"
    return name, None


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class RequestContextMiddleware:
    """Binds correlation and session ids to logs, counts requests, and caps body size."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry, max_body_bytes: int, name: str) -> None:
        self.app = app
        self.name = name
        self.max_body_bytes = max_body_bytes
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds", "HTTP request latency", ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        # A client's id that is too long or not printable ASCII is replaced, never passed on.
        correlation_id = clean_correlation_id(headers.get(b"x-correlation-id")) or uuid.uuid4().hex
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await self._too_large(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        status, status_sent = 500, False
        database = [0.0]
        DATABASE_SECONDS.set(database)

        async def send_with_id(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                # Where the time went (Server-Timing, in ms): this service, and its database within it.
                spent = (time.perf_counter() - start) * 1000
                timing = f"{self.name};dur={spent:.2f}, {self.name}-db;dur={database[0] * 1000:.2f}"
                message["headers"] = [*message["headers"], (b"x-correlation-id", correlation_id.encode()),
                                      (b"server-timing", timing.encode())]
            await send(message)

        start = time.perf_counter()
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            await self._too_large(send)
            status = 413
        except Exception as e:  # answered here, not re-raised: see install_error_handlers
            if status_sent:
                log.exception("error_after_response_started")
            else:
                response = unexpected_response(e)
                status = response.status_code
                await response(scope, _empty_receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.requests.labels(scope["method"], path, str(status)).inc()
            self.latency.labels(scope["method"], path).observe(time.perf_counter() - start)
            structlog.contextvars.unbind_contextvars("correlation_id", "session_id")

    async def _too_large(self, send: Send) -> None:
        response = JSONResponse(
            error_body("payload_too_large", f"The body exceeds {self.max_body_bytes} bytes."),
            status_code=413,
        )
        await response({"type": "http"}, _empty_receive, send)


class _BodyTooLarge(Exception):
    pass


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    lifespan: Lifespan | None = None,
    readiness: list[ReadinessCheck] | None = None,
    registry: CollectorRegistry | None = None,
    **fastapi_kwargs: Any,
) -> FastAPI:
    """A FastAPI app with /healthz, /readyz, /metrics (of ``registry``, where the service's own metrics
    are too), request context and the error mapping."""
    configure_logging(settings)
    checks = readiness if readiness is not None else []
    app = FastAPI(title=title, lifespan=lifespan, **fastapi_kwargs)
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    app.state.readiness = checks
    registry = registry or CollectorRegistry()
    app.state.metrics_registry = registry
    app.add_middleware(RequestContextMiddleware, registry=registry, max_body_bytes=settings.max_body_bytes,
                       name=settings.service_name)
    install_error_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        # Every check at once, each bounded: a dependency that hangs (a broker mid-outage) makes
        # the answer a prompt 503, never a probe that times out.
        results = await asyncio.gather(*(_bounded(check) for check in app.state.readiness))
        failures = {name: problem for name, problem in results if problem is not None}
        if failures:
            return JSONResponse({"status": "unavailable", "failures": failures}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app

