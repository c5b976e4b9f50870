"""transcript-svc: stores transcript segments; FastAPI and FastStream in one process."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from transcript_svc import api, handlers
from transcript_svc.settings import TranscriptSettings
from voice_shared.bus import make_broker
from voice_shared.db import make_engine, make_sessionmaker
from voice_shared.http import create_service_app


def create_app(settings: TranscriptSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or TranscriptSettings()
    engine = make_engine(settings.database_url, settings.database_pool_size)
    sessions = make_sessionmaker(engine)
    broker = make_broker(settings)
    handlers.register(broker, settings, sessions)

    async def database() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("select 1"))

    async def bus() -> None:
        if not await broker.ping(timeout=2.0):
            raise ConnectionError("RabbitMQ did not answer")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            await engine.dispose()

    app = create_service_app(
        settings, title="transcript-svc (internal)", lifespan=lifespan, readiness=[database, bus]
    )
    app.state.sessions = sessions
    app.state.broker = broker
    app.include_router(api.router)
    return app
