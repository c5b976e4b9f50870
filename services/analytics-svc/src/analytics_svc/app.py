"""analytics-svc: scores final transcripts against their rubric; FastAPI and FastStream in one process."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from analytics_svc import api, handlers
from analytics_svc.scoring.meaning import Meaning
from analytics_svc.service import Sources
from analytics_svc.settings import AnalyticsSettings
from voice_shared.bus import make_broker, publish_envelope
from voice_shared.contracts import Envelope
from voice_shared.db import make_engine, make_sessionmaker
from voice_shared.http import bus_ready, create_service_app, database_ready
from voice_shared.internal_api import SessionApi, TranscriptApi, token_source
from voice_shared.outbox import OutboxRelay
from voice_shared.session_access import SessionAccessClient


def create_app(
    settings: AnalyticsSettings | None = None, session_svc: httpx.AsyncClient | None = None,
    transcript_svc: httpx.AsyncClient | None = None,
) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts. Clients not given (session-svc's,
    transcript-svc's) are made from the settings' URLs and closed by the lifespan."""
    settings = settings or AnalyticsSettings()
    engine = make_engine(settings.database_url, settings.database_pool_size)
    sessions = make_sessionmaker(engine)
    broker = make_broker(settings)
    meaning = Meaning()

    async def publish(env: Envelope) -> None:
        await publish_envelope(broker, settings.bus_namespace, env)

    relay = OutboxRelay(sessions, settings.db_schema, publish, poll_seconds=settings.outbox_poll_seconds)
    token = token_source(settings, settings.service_name, "analytics")

    def client(given: httpx.AsyncClient | None, url: str) -> httpx.AsyncClient:
        return given or httpx.AsyncClient(base_url=url, timeout=settings.http_timeout_seconds, trust_env=False)

    session_http = client(session_svc, settings.session_svc_url)
    transcript_http = client(transcript_svc, settings.transcript_svc_url)
    llm_http = httpx.AsyncClient(trust_env=False)
    owned = [c for c, given in ((session_http, session_svc), (transcript_http, transcript_svc), (llm_http, None))
             if given is None]
    sources = Sources(SessionApi(session_http, token), TranscriptApi(transcript_http, token), llm_http, meaning,
                      settings)
    handlers.register(broker, settings, sessions, sources, relay)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(meaning.warm)  # the model loads before the first transcript arrives
        await broker.start()
        relay_task = asyncio.create_task(relay.run(), name="outbox-relay")
        try:
            yield
        finally:
            relay.stop()
            await relay_task
            await broker.stop()
            for own in owned:
                await own.aclose()
            await engine.dispose()

    app = create_service_app(
        settings, title="analytics-svc (internal)", lifespan=lifespan,
        readiness=[database_ready(engine), bus_ready(broker)],
    )
    app.state.sessions = sessions
    app.state.broker = broker
    app.state.relay = relay
    app.state.sources = sources
    app.state.session_access = SessionAccessClient(session_http)
    app.include_router(api.router)
    return app
