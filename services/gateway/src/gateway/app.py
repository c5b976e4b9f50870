"""gateway: the public REST API, authenticated at the edge and relayed to session-svc."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from gateway.routes import ROUTERS
from gateway.settings import GatewaySettings
from gateway.upstream import open_client
from voice_shared.bus import CommandClient, make_broker
from voice_shared.http import bus_ready, create_service_app

DESCRIPTION = (
    "Interview configs, voice sessions, shares and knowledge bases. Every call names its "
    "organisation with `orgId` and sends `Authorization: Bearer <token>`. Errors are "
    '`{"error": {"code", "message", "details"}}`; a resource of another organisation is a 404.'
)


def create_app(
    settings: GatewaySettings | None = None, upstream: httpx.AsyncClient | None = None
) -> FastAPI:
    """Build the app; with no ``upstream`` the lifespan opens (and closes) a client of session-svc."""
    settings = settings or GatewaySettings()
    # The bus carries SDP offers to the session's bot and its answers back (request/reply).
    broker = make_broker(settings)
    commands = CommandClient(broker, settings.bus_namespace, owner="gateway")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        try:
            await commands.declare()
            if upstream is not None:
                yield  # the caller's client: the caller closes it
                return
            async with open_client(settings) as client:
                app.state.upstream = client
                yield
        finally:
            await broker.stop()

    async def session_svc() -> None:
        answer = await app.state.upstream.get("/readyz")
        answer.raise_for_status()

    app = create_service_app(
        settings, title="Voice interview platform API", version="1.0.0", description=DESCRIPTION,
        lifespan=lifespan, readiness=[session_svc, bus_ready(broker)],
    )
    app.state.upstream = upstream
    app.state.commands = commands
    for router in ROUTERS:
        app.include_router(router)
    return app
