"""bot-orchestrator: the warm bot pool; FastAPI and FastStream in one process."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from bot_orchestrator import api, handlers
from bot_orchestrator.metrics import PoolMetrics
from bot_orchestrator.pool.ports import BotBackend
from bot_orchestrator.service import Pool
from bot_orchestrator.settings import OrchestratorSettings
from voice_shared.bus import make_broker, publish_envelope
from voice_shared.contracts import Envelope
from voice_shared.db import make_engine, make_sessionmaker
from voice_shared.http import bus_ready, create_service_app, database_ready
from voice_shared.outbox import OutboxRelay


def make_backend(settings: OrchestratorSettings) -> BotBackend:
    """The runtime the settings name; the Kubernetes one connects when the lifespan opens it."""
    if settings.pool_backend == "kubernetes":
        from bot_orchestrator.pool.kubernetes import KubernetesBackend

        return KubernetesBackend(settings.kubernetes_namespace, settings.kubernetes_deployment,
                                 kubeconfig=settings.kubeconfig, context=settings.kubernetes_context)
    if settings.pool_backend == "external":
        from bot_orchestrator.pool.external import ExternalBackend

        return ExternalBackend()
    from bot_orchestrator.pool.local import LocalBackend

    return LocalBackend()


def create_app(settings: OrchestratorSettings | None = None, backend: BotBackend | None = None) -> FastAPI:
    """Build the app; nothing connects (and no bot starts) until the lifespan starts."""
    settings = settings or OrchestratorSettings()
    engine = make_engine(settings.database_url, settings.database_pool_size)
    sessions = make_sessionmaker(engine)
    broker = make_broker(settings)
    registry = CollectorRegistry()
    pool = Pool(sessions, settings, backend or make_backend(settings), PoolMetrics(registry))
    handlers.register(broker, settings, pool)

    async def publish(env: Envelope) -> None:
        await publish_envelope(broker, settings.bus_namespace, env)

    relay = OutboxRelay(sessions, settings.db_schema, publish, poll_seconds=settings.outbox_poll_seconds)

    async def pool_warm() -> None:
        """Ready once the warm target has been met (the first interview then starts at once)."""
        if not pool.warmed:
            last = pool.last
            raise RuntimeError(f"warming up: {last.warm_target if last else '?'} warm bot(s) wanted")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        opener = getattr(pool.backend, "open", None)
        if opener is not None:
            await opener()
        await broker.start()
        relay_task = asyncio.create_task(relay.run(), name="outbox-relay")
        pool_task = asyncio.create_task(pool.run(), name="pool-reconcile")
        try:
            yield
        finally:
            pool.stop()
            relay.stop()
            await pool_task
            await relay_task
            await pool.backend.aclose()
            await broker.stop()
            await engine.dispose()

    app = create_service_app(
        settings, title="bot-orchestrator (internal)", lifespan=lifespan,
        readiness=[database_ready(engine), bus_ready(broker), pool_warm], registry=registry,
    )
    app.state.pool = pool
    app.state.sessions = sessions
    app.state.relay = relay
    app.state.broker = broker
    app.include_router(api.router)
    return app
