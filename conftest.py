"""Fixtures shared by every test tier: a fresh database and bus namespace per test run,
running service apps, and token factories. Real Postgres and RabbitMQ, nothing mocked."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from uuid import UUID

import aio_pika
import httpx
import pytest
from sqlalchemy.engine import make_url

from voice_shared.auth import Role, mint_dev_token
from voice_shared.bus import SUBSCRIPTIONS, dead_letter_queue, queue
from voice_shared.dbsetup import drop_database, ensure_database
from voice_shared.migrations import upgrade
from voice_shared.settings import ServiceSettings

ROOT = Path(__file__).parent
PG = os.environ.get("VOICE_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
AMQP = os.environ.get("VOICE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
SERVICE_SCHEMAS = {"session-svc": "session_svc"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that reach the real database or broker are marked ``integration`` automatically."""
    for item in items:
        if "platform_env" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
async def platform_env(run_id: str) -> AsyncIterator[dict[str, str]]:
    """A database and a bus namespace of this test run's own, migrated and then removed."""
    db = f"voice_test_{run_id}"
    server = str(make_url(PG).set(database=None)).rsplit("/", 1)[0]
    env = {
        "database_url": f"{server.replace('postgres@', 'voice_app@')}/{db}",
        "migration_database_url": f"{server.replace('postgres@', 'voice_owner@')}/{db}",
        "amqp_url": AMQP,
        "bus_namespace": f"t{run_id}",
        "environment": "test",
        "json_logs": "true",
    }
    await ensure_database(PG, env["database_url"], env["migration_database_url"],
                          list(SERVICE_SCHEMAS.values()))
    for service, schema in SERVICE_SCHEMAS.items():
        await asyncio.to_thread(
            upgrade, ROOT / "services" / service / "migrations",
            env["migration_database_url"], schema, "voice_app",
        )
    yield env
    await drop_database(PG, db)
    await delete_namespace(env["bus_namespace"])


async def delete_namespace(namespace: str) -> None:
    connection = await aio_pika.connect(AMQP)
    async with connection:
        channel = await connection.channel()
        for sub in SUBSCRIPTIONS:
            for q in (queue(namespace, sub), dead_letter_queue(namespace, sub)):
                await channel.queue_delete(q.name)
        for name in (f"{namespace}.events", f"{namespace}.dlx"):
            await channel.exchange_delete(name)


@pytest.fixture(scope="session")
def base_settings(platform_env: dict[str, str]) -> ServiceSettings:
    return ServiceSettings(**platform_env)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def topology(base_settings: ServiceSettings) -> None:
    from voice_shared.bus import declare_topology, make_broker

    broker = make_broker(base_settings)
    await broker.connect()
    await declare_topology(broker, base_settings.bus_namespace)
    await broker.stop()


@pytest.fixture(scope="session")
async def session_svc_app(platform_env: dict[str, str], topology: None):  # type: ignore[no-untyped-def]
    from session_svc.app import create_app
    from session_svc.settings import SessionSettings

    app = create_app(SessionSettings(**platform_env, outbox_poll_seconds=0.05))  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def session_svc(session_svc_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """An HTTP client of session-svc's internal API, in process."""
    transport = httpx.ASGITransport(app=session_svc_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://session-svc") as client:
        yield client


@pytest.fixture(scope="session")
async def gateway(platform_env: dict[str, str], session_svc_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """An HTTP client of the gateway, whose upstream is the in-process session-svc."""
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    upstream = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=session_svc_app), base_url="http://session-svc"
    )
    app = create_app(GatewaySettings(**platform_env), upstream=upstream)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client
    await upstream.aclose()


TokenFactory = Callable[..., str]


@pytest.fixture(scope="session")
def token(base_settings: ServiceSettings) -> TokenFactory:
    """``token(org_id, role="org_user", sub=None, workspaces=None, ...)`` -> a signed dev token."""

    def make(
        org_id: UUID | None = None,
        role: str = "org_user",
        sub: str | None = None,
        *,
        workspaces: list[UUID] | None = None,
        platform_admin: bool = False,
        service: str | None = None,
        ttl_seconds: int = 3600,
    ) -> str:
        orgs = {org_id: Role(role)} if org_id else {}
        return mint_dev_token(
            base_settings, sub or f"user-{uuid.uuid4().hex[:8]}", orgs,
            workspaces=workspaces, platform_admin=platform_admin, service=service,
            ttl_seconds=ttl_seconds,
        )

    return make




class EventLog:
    """Every event published on this run's exchange, received over the real broker."""

    def __init__(self) -> None:
        self.events: list[dict] = []  # type: ignore[type-arg]
        self._arrived = asyncio.Condition()

    async def add(self, body: dict) -> None:  # type: ignore[type-arg]
        async with self._arrived:
            self.events.append(body)
            self._arrived.notify_all()

    def of(self, session_id: object, type_: str | None = None) -> list[dict]:  # type: ignore[type-arg]
        return [e for e in self.events if e.get("session_id") == str(session_id)
                and (type_ is None or e["type"] == type_)]

    async def wait_for(self, session_id: object, type_: str, count: int = 1, timeout: float = 10.0) -> list[dict]:  # type: ignore[type-arg]  # noqa: ASYNC109
        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.of(session_id, type_)) >= count)

        await asyncio.wait_for(enough(), timeout)
        return self.of(session_id, type_)


@pytest.fixture(scope="session")
async def event_log(base_settings: ServiceSettings, topology: None) -> AsyncIterator[EventLog]:
    import json

    log = EventLog()
    connection = await aio_pika.connect(AMQP)
    channel = await connection.channel()
    exchange = await channel.get_exchange(f"{base_settings.bus_namespace}.events")
    tap = await channel.declare_queue(exclusive=True, auto_delete=True)
    await tap.bind(exchange, routing_key="#")

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            await log.add(json.loads(message.body))

    await tap.consume(on_message)
    yield log
    await connection.close()
