"""session-svc: configs, sessions, shares, knowledge bases; FastAPI and FastStream in one process."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from session_svc import api, bot_api, handlers
from session_svc.analytics import api as analytics_api
from session_svc.analytics import handlers as analytics_handlers
from session_svc.credentials import api as credentials_api
from session_svc.credentials.bootstrap import secret_stores
from session_svc.dispatch.service import LinkExpiry
from session_svc.erasure import api as erasure_api
from session_svc.erasure.transcripts import TranscriptErasure
from session_svc.join import api as join_api
from session_svc.join.service import QueueReader
from session_svc.knowledge import api as knowledge_api
from session_svc.org import api as org_api
from session_svc.rooms import api as rooms_api
from session_svc.rooms import handlers as rooms_handlers
from session_svc.rooms.service import Rooms, SecretResolver
from session_svc.settings import SessionSettings
from session_svc.transcripts import api as transcripts_api
from session_svc.transcripts import handlers as transcripts_handlers
from voice_shared.bus import make_broker, publish_envelope
from voice_shared.contracts import Envelope
from voice_shared.db import make_engine, make_sessionmaker
from voice_shared.http import bus_ready, create_service_app, database_ready
from voice_shared.internal_api import PoolApi, token_source
from voice_shared.outbox import OutboxRelay


def create_app(settings: SessionSettings | None = None, *, room_secrets: SecretResolver | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts.

    ``room_secrets`` replaces the credentials module as the source of room providers' keys.
    """
    settings = settings or SessionSettings()
    engine = make_engine(settings.database_url, settings.database_pool_size)
    sessions = make_sessionmaker(engine)
    broker = make_broker(settings)
    handlers.register(broker, settings, sessions)
    rooms = Rooms(sessions, settings, secrets=room_secrets)
    rooms_handlers.register(broker, settings, rooms)
    transcripts_handlers.register(broker, settings, sessions)
    analytics_handlers.register(broker, settings, sessions)
    # A candidate's erasure asks transcript-svc to remove its records (tests may put another client).
    transcript_erasure = TranscriptErasure(httpx.AsyncClient(base_url=settings.transcript_svc_url, timeout=30.0))

    async def publish(env: Envelope) -> None:
        await publish_envelope(broker, settings.bus_namespace, env)

    relay = OutboxRelay(sessions, settings.db_schema, publish, poll_seconds=settings.outbox_poll_seconds)
    link_expiry = LinkExpiry(sessions, settings)
    # Where a dispatched session waits for a bot: the orchestrator knows (the join page and GET session show it).
    queue = QueueReader(PoolApi.connect(settings.bot_orchestrator_url, settings,
                                        token_source(settings, "session-svc", "session")))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        relay_task = asyncio.create_task(relay.run(), name="outbox-relay")
        sweeper_task = asyncio.create_task(rooms.run_sweeper(), name="room-sweeper")
        expiry_task = asyncio.create_task(link_expiry.run(), name="link-expiry")
        try:
            yield
        finally:
            rooms.stop()
            relay.stop()
            link_expiry.stop()
            await expiry_task
            await sweeper_task
            await relay_task
            await broker.stop()
            await rooms.close()
            await transcript_erasure.client.aclose()
            await queue.aclose()
            await engine.dispose()

    app = create_service_app(
        settings, title="session-svc (internal)", lifespan=lifespan,
        readiness=[database_ready(engine), bus_ready(broker)],
    )
    app.state.sessions = sessions
    app.state.relay = relay
    app.state.rooms = rooms
    app.state.queue = queue
    app.state.transcript_erasure = transcript_erasure
    app.state.broker = broker
    app.state.secret_stores = secret_stores(settings)
    app.include_router(api.router)
    app.include_router(knowledge_api.router)
    app.include_router(credentials_api.router)
    app.include_router(join_api.router)
    app.include_router(rooms_api.router)
    app.include_router(bot_api.router)
    app.include_router(transcripts_api.router)
    app.include_router(analytics_api.router)
    app.include_router(org_api.router)
    app.include_router(erasure_api.router)
    return app
