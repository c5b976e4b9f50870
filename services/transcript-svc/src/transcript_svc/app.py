"""transcript-svc: segments, final transcripts and their archive; FastAPI and FastStream in one process."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from transcript_svc import api, handlers
from transcript_svc.archive import Archive
from transcript_svc.downloads import DownloadLinks
from transcript_svc.retention import RetentionSweeper
from transcript_svc.settings import TranscriptSettings
from voice_shared.bus import make_broker, publish_envelope
from voice_shared.contracts import Envelope
from voice_shared.db import make_engine, make_sessionmaker
from voice_shared.http import bus_ready, create_service_app, database_ready
from voice_shared.objects import object_store
from voice_shared.outbox import OutboxRelay
from voice_shared.session_access import SessionAccessClient


def create_app(settings: TranscriptSettings | None = None, session_svc: httpx.AsyncClient | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts. With no ``session_svc`` client (who
    may read a transcript), the lifespan opens one of ``settings.session_svc_url``."""
    settings = settings or TranscriptSettings()
    engine = make_engine(settings.database_url, settings.database_pool_size)
    sessions = make_sessionmaker(engine)
    broker = make_broker(settings)
    archive = Archive(object_store(settings), settings.object_store_prefix)

    async def publish(env: Envelope) -> None:
        await publish_envelope(broker, settings.bus_namespace, env)

    relay = OutboxRelay(sessions, settings.db_schema, publish, poll_seconds=settings.outbox_poll_seconds)
    handlers.register(broker, settings, sessions, archive, relay)
    sweeper = RetentionSweeper(sessions, archive, settings, relay)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        relay_task = asyncio.create_task(relay.run(), name="outbox-relay")
        sweeper_task = asyncio.create_task(sweeper.run(), name="retention-sweeper")
        client = session_svc or httpx.AsyncClient(base_url=settings.session_svc_url, timeout=10.0)
        app.state.session_access = SessionAccessClient(client)
        try:
            yield
        finally:
            if session_svc is None:
                await client.aclose()
            relay.stop()
            sweeper.stop()
            await relay_task
            await sweeper_task
            await broker.stop()
            await engine.dispose()

    app = create_service_app(
        settings, title="transcript-svc (internal)", lifespan=lifespan,
        readiness=[database_ready(engine), bus_ready(broker)],
    )
    app.state.sessions = sessions
    app.state.broker = broker
    app.state.archive = archive
    app.state.relay = relay
    app.state.sweeper = sweeper
    app.state.download_links = DownloadLinks(settings)
    app.include_router(api.router)
    return app
