"""gateway: the public REST API, authenticated at the edge and relayed to the owning service."""

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from gateway import live
from gateway.live import LiveHub
from gateway.routes import ROUTERS
from gateway.settings import GatewaySettings
from gateway.upstream import UPSTREAMS, Upstream, open_client
from voice_shared.bus import CommandClient, make_broker
from voice_shared.http import bus_ready, create_service_app

DESCRIPTION = (
    "Interview configs, voice sessions, shares and knowledge bases. Every call names its "
    "organisation with `orgId` and sends `Authorization: Bearer <token>`. Errors are "
    '`{"error": {"code", "message", "details"}}`; a resource of another organisation is a 404.'
)


def create_app(
    settings: GatewaySettings | None = None, upstreams: Mapping[Upstream, httpx.AsyncClient] | None = None
) -> FastAPI:
    """Build the app; for each upstream not in ``upstreams`` the lifespan opens (and closes) a client
    of the URL its settings name. The caller closes the clients it gave."""
    settings = settings or GatewaySettings()
    # The bus carries SDP offers to the session's bot and its answers back (request/reply).
    broker = make_broker(settings)
    commands = CommandClient(broker, settings.bus_namespace, owner="gateway")
    hub = LiveHub()
    live.register(broker, settings.bus_namespace, hub, settings.live_end_grace_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        try:
            await commands.declare()
            async with AsyncExitStack() as own:
                for name in UPSTREAMS:
                    if name not in app.state.upstreams:
                        app.state.upstreams[name] = await own.enter_async_context(open_client(settings, name))
                yield
                app.state.upstreams = dict(upstreams or {})
        finally:
            await broker.stop()

    async def session_svc() -> None:
        # transcript-svc is not a readiness condition: without it only transcripts' routes answer 503.
        answer = await app.state.upstreams["session-svc"].get("/readyz")
        answer.raise_for_status()

    app = create_service_app(
        settings, title="Voice interview platform API", version="1.0.0", description=DESCRIPTION,
        lifespan=lifespan, readiness=[session_svc, bus_ready(broker)],
    )
    app.state.commands = commands
    app.state.live = hub
    app.state.upstreams = dict(upstreams or {})  # given clients work without the lifespan too
    for router in ROUTERS:
        app.include_router(router)
    return app
