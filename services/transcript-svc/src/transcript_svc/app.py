"""transcript-svc: stores transcript segments; FastAPI and FastStream in one process."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from transcript_svc import api, handlers
from transcript_svc.settings import TranscriptSettings
from voice_shared.bus import make_broker
from voice_shared.db import make_engine, make_sessionmaker
from voice_shared.http import bus_ready, create_service_app, database_ready


def create_app(settings: TranscriptSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or TranscriptSettings()
    engine = make_engine(settings.database_url, settings.database_pool_size)
    sessions = make_sessionmaker(engine)
    broker = make_broker(settings)
    handlers.register(broker, settings, sessions)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            await engine.dispose()

    app = create_service_app(
        settings, title="transcript-svc (internal)", lifespan=lifespan,
        readiness=[database_ready(engine), bus_ready(broker)],
    )
    app.state.sessions = sessions
    app.state.broker = broker
    app.include_router(api.router)
    return app
