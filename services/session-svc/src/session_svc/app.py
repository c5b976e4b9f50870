"""session-svc: configs, sessions, shares, knowledge bases; FastAPI and FastStream in one process."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from session_svc import api, handlers
from session_svc.knowledge import api as knowledge_api
from session_svc.settings import SessionSettings
from voice_shared.bus import make_broker, publish_envelope
from voice_shared.contracts import Envelope
from voice_shared.db import make_engine, make_sessionmaker
from voice_shared.http import create_service_app
from voice_shared.outbox import OutboxRelay


def create_app(settings: SessionSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or SessionSettings()
    engine = make_engine(settings.database_url, settings.database_pool_size)
    sessions = make_sessionmaker(engine)
    broker = make_broker(settings)
    handlers.register(broker, settings, sessions)

    async def publish(env: Envelope) -> None:
        await publish_envelope(broker, settings.bus_namespace, env)

    relay = OutboxRelay(sessions, settings.db_schema, publish, poll_seconds=settings.outbox_poll_seconds)

    async def database() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("select 1"))

    async def bus() -> None:
        if not await broker.ping(timeout=2.0):
            raise ConnectionError("RabbitMQ did not answer")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        relay_task = asyncio.create_task(relay.run(), name="outbox-relay")
        try:
            yield
        finally:
            relay.stop()
            await relay_task
            await broker.stop()
            await engine.dispose()

    app = create_service_app(
        settings, title="session-svc (internal)", lifespan=lifespan, readiness=[database, bus]
    )
    app.state.sessions = sessions
    app.state.relay = relay
    app.state.broker = broker
    app.include_router(api.router)
    app.include_router(knowledge_api.router)
    return app
