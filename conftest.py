"""Fixtures shared by every test tier: a fresh database and bus namespace per test run,
running service apps, and token factories. Real Postgres and RabbitMQ, nothing mocked."""

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aio_pika
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from voice_cli.registry import with_schema
from voice_shared.auth import Role, mint_dev_token
from voice_shared.bus import delete_topology
from voice_shared.contracts import Envelope
from voice_shared.dbsetup import drop_database, ensure_database
from voice_shared.migrations import upgrade
from voice_shared.settings import ServiceSettings

Publish = Callable[[Envelope], Awaitable[None]]
PG = os.environ.get("VOICE_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
AMQP = os.environ.get("VOICE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
SERVICES_WITH_SCHEMA = with_schema()  # every service that owns tables (`voice db setup`'s list)


@dataclass(frozen=True)
class FaultRow:
    scenario: str
    sent: int
    lost: int
    duplicated: int
    recovery_seconds: float | None


FAULT_ROWS: list[FaultRow] = []


@pytest.fixture
def fault_report() -> Callable[..., None]:
    """``fault_report(scenario, sent=, lost=, duplicated=, recovery_seconds=)``: a row of the fault table.

    Recorded by the fault tests (marker ``chaos``) after their assertions' inputs are known, so the
    table shows what happened even when a test then fails on it.
    """

    def record(scenario: str, *, sent: int, lost: int, duplicated: int = 0,
               recovery_seconds: float | None = None) -> None:
        FAULT_ROWS.append(FaultRow(scenario, sent, lost, duplicated, recovery_seconds))

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault table, when fault tests ran (`make chaos`, and the part of it in `make test`)."""
    if not FAULT_ROWS:
        return
    width = max(len(r.scenario) for r in FAULT_ROWS)
    terminalreporter.section("faults")
    terminalreporter.write_line(f"{'scenario':<{width}}  {'sent':>7}  {'lost':>5}  {'dup':>5}  recovery")
    for r in FAULT_ROWS:
        recovery = "-" if r.recovery_seconds is None else f"{r.recovery_seconds:.2f} s"
        terminalreporter.write_line(f"{r.scenario:<{width}}  {r.sent:>7}  {r.lost:>5}  {r.duplicated:>5}  {recovery}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that reach the real database or broker are marked ``integration`` automatically;
    ``disruptive`` ones (they stop the broker under the run's long-lived connections) run last."""
    for item in items:
        if "platform_env" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


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
        "object_store_dir": tempfile.mkdtemp(prefix=f"voice-objects-{run_id}-"),
        "webrtc_bot_wait_seconds": "2",  # how long an offer after Start waits for a bot (8 s by default)
    }
    await ensure_database(PG, env["database_url"], env["migration_database_url"],
                          [s.schema for s in SERVICES_WITH_SCHEMA if s.schema])
    for service in SERVICES_WITH_SCHEMA:
        assert service.schema is not None
        await asyncio.to_thread(
            upgrade, service.migrations_dir(), env["migration_database_url"], service.schema, "voice_app",
        )
    yield env
    shutil.rmtree(env["object_store_dir"], ignore_errors=True)
    await drop_database(PG, db)
    await delete_topology(AMQP, env["bus_namespace"])


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
async def gateway(  # type: ignore[no-untyped-def]
    platform_env: dict[str, str], session_svc_app, transcript_svc_app, analytics_svc_app
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the gateway, whose upstreams are the in-process session-svc, transcript-svc and
    analytics-svc."""
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    upstreams = {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
                 for name, app in (("session-svc", session_svc_app), ("transcript-svc", transcript_svc_app),
                                   ("analytics-svc", analytics_svc_app))}
    app = create_app(GatewaySettings(**platform_env), upstreams=upstreams)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client
    for upstream in upstreams.values():
        await upstream.aclose()


@pytest.fixture(scope="session")
async def transcript_svc_app(  # type: ignore[no-untyped-def]
    platform_env: dict[str, str], topology, session_svc_app
) -> AsyncIterator[FastAPI]:
    """transcript-svc with its lifespan running (its consumers take the run's segments and session
    ends), asking the in-process session-svc who may read a transcript."""
    from session_svc.erasure.transcripts import TranscriptErasure
    from transcript_svc.app import create_app
    from transcript_svc.settings import TranscriptSettings

    sessions = httpx.AsyncClient(transport=httpx.ASGITransport(app=session_svc_app), base_url="http://session-svc")
    app = create_app(TranscriptSettings(**platform_env, outbox_poll_seconds=0.05), session_svc=sessions)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        # And the other way: session-svc's erasures reach this transcript-svc in process.
        own = session_svc_app.state.transcript_erasure
        erasures = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://transcript-svc")
        session_svc_app.state.transcript_erasure = TranscriptErasure(erasures)
        yield app
        session_svc_app.state.transcript_erasure = own
        await erasures.aclose()
    await sessions.aclose()


@pytest.fixture(scope="session")
async def analytics_svc_app(  # type: ignore[no-untyped-def]
    platform_env: dict[str, str], topology, session_svc_app, transcript_svc_app
) -> AsyncIterator[FastAPI]:
    """analytics-svc with its lifespan running (it scores the run's final transcripts), reading plans
    from the in-process session-svc and transcripts from the in-process transcript-svc."""
    from analytics_svc.app import create_app
    from analytics_svc.settings import AnalyticsSettings

    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
               for name, app in (("session-svc", session_svc_app), ("transcript-svc", transcript_svc_app))]
    app = create_app(AnalyticsSettings(**platform_env, outbox_poll_seconds=0.05),  # type: ignore[arg-type]
                     session_svc=clients[0], transcript_svc=clients[1])
    async with app.router.lifespan_context(app):
        yield app
    for client in clients:
        await client.aclose()


@pytest.fixture(scope="session")
async def transcript_svc(transcript_svc_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of transcript-svc's internal API, in process."""
    transport = httpx.ASGITransport(app=transcript_svc_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://transcript-svc") as client:
        yield client


@pytest.fixture(scope="session")
async def publish(base_settings, topology) -> AsyncIterator[Publish]:  # type: ignore[no-untyped-def]
    """``await publish(envelope)``: one event on the run's exchange, confirmed by the broker."""
    from voice_shared.bus import make_broker, publish_envelope

    broker = make_broker(base_settings)
    await broker.connect()

    async def send(env: Envelope) -> None:
        await publish_envelope(broker, base_settings.bus_namespace, env)

    yield send
    await broker.stop()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """moto's S3 (and KMS) server on 127.0.0.1: its endpoint URL. Every test makes buckets of its own."""
    from moto.server import ThreadedMotoServer

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_bucket(moto_s3: str) -> Callable[[], str]:
    """``s3_bucket()``: a new bucket on the moto server, with versioning on."""
    import boto3

    client = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")

    def make() -> str:
        name = f"voice-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=name)
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    return make


Handled = Callable[..., Awaitable[None]]


@pytest.fixture(scope="session")
def handled(platform_env: dict[str, str]) -> Handled:
    """``await handled(schema, consumer, *event_ids)``: until that consumer's inbox holds every one of
    the events (their effects are committed). Read as the owner: the application role may only
    insert into the inbox."""
    from sqlalchemy import text

    from voice_shared.db import make_engine, make_sessionmaker, transaction

    async def wait(schema: str, consumer: str, *event_ids: UUID, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        deadline = asyncio.get_running_loop().time() + timeout
        wanted = {str(e) for e in event_ids}
        engine = make_engine(platform_env["migration_database_url"], pool_size=1)
        try:
            while True:
                async with transaction(make_sessionmaker(engine)) as tx:
                    rows = await tx.execute(
                        text(f"SELECT event_id::text FROM {schema}.inbox "
                             "WHERE consumer = :c AND event_id::text = ANY(:ids)"),
                        {"c": consumer, "ids": list(wanted)},
                    )
                    if {r[0] for r in rows} == wanted:
                        return
                assert asyncio.get_running_loop().time() < deadline, f"{consumer} did not handle the events in time"
                await asyncio.sleep(0.05)
        finally:
            await engine.dispose()

    return wait


SegmentEvent = Callable[..., Envelope]


@pytest.fixture(scope="session")
def segment_event() -> SegmentEvent:
    """``segment_event(org_id, session_id, sequence, **fields)``: a transcript.segment envelope with a
    fresh event id, as the bot publishes it; ``fields`` override the segment's."""

    def make(org_id: UUID | None, session_id: UUID, sequence: int, **fields: Any) -> Envelope:
        values: dict[str, Any] = {
            "speaker": "candidate" if sequence % 2 else "bot", "text": f"utterance {sequence}",
            "start_ms": 1000 * sequence, "end_ms": 1000 * sequence + 800,
        }
        from voice_shared.contracts import TranscriptSegment, envelope

        segment = TranscriptSegment(session_id=session_id, sequence=sequence, **{**values, **fields})
        return envelope(segment, org_id=org_id, session_id=session_id, correlation_id=uuid.uuid4().hex)

    return make


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
            try:
                body = json.loads(message.body)
            except ValueError:  # the fault tests publish garbage on purpose
                return
            if isinstance(body, dict) and "type" in body:
                await log.add(body)

    await tap.consume(on_message)
    yield log
    await connection.close()


# --- the credential canary --------------------------------------------------------------------


class SecretWatch:
    """Every log line (structlog and standard logging) and HTTP response body of the run, searched
    for one secret as it passes."""

    LOGGER_METHODS = ("msg", "log", "debug", "info", "warn", "warning", "fatal", "failure", "err",
                      "error", "critical", "exception")

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.leaks: list[str] = []
        self.responses = 0

    def check(self, where: str, content: str | bytes) -> None:
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
        if self.secret in text:
            self.leaks.append(f"{where}: {text.replace(self.secret, '<CANARY>')[:300]}")

    def install(self, patch: pytest.MonkeyPatch) -> None:
        import logging

        import structlog

        watch = self
        print_line = structlog.PrintLogger.msg

        def watched_line(logger: structlog.PrintLogger, message: str) -> None:
            watch.check("log line", message)
            print_line(logger, message)

        for name in self.LOGGER_METHODS:
            patch.setattr(structlog.PrintLogger, name, watched_line)

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                watch.check(f"log record of {record.name}", logging.Formatter().format(record))

        self.handler = Handler()
        logging.getLogger().addHandler(self.handler)
        read, aread = httpx.Response.read, httpx.Response.aread

        def where(response: httpx.Response) -> str:
            try:
                return f"response to {response.request.method} {response.request.url}"
            except RuntimeError:
                return "a response"

        def watched_read(response: httpx.Response) -> bytes:
            content = read(response)
            watch.responses += 1
            watch.check(where(response), content)
            return content

        async def watched_aread(response: httpx.Response) -> bytes:
            content = await aread(response)
            watch.responses += 1
            watch.check(where(response), content)
            return content

        patch.setattr(httpx.Response, "read", watched_read)
        patch.setattr(httpx.Response, "aread", watched_aread)


async def exercise_canary(env: dict[str, str], make_token: TokenFactory, secret: str) -> None:
    """Create, read, change, validate and misuse credentials holding the canary, at both scopes,
    through a gateway and session-svc of their own (on this thread's own event loop)."""
    from gateway.app import create_app as create_gateway
    from gateway.settings import GatewaySettings
    from session_svc.app import create_app as create_session_svc
    from session_svc.settings import SessionSettings

    # Validation is exercised against a closed local port: the canary never leaves the machine.
    nowhere = "http://127.0.0.1:9"
    # The run's settings as environment strings, which pydantic converts to each field's type.
    fields: dict[str, Any] = dict(env)
    svc = create_session_svc(SessionSettings(
        **fields, provider_timeout_seconds=2, daily_api_url=nowhere, deepgram_api_url=nowhere,
        cartesia_api_url=nowhere, openai_api_url=nowhere,
    ))
    org = uuid.uuid4()
    org_admin = {"Authorization": f"Bearer {make_token(org, 'org_admin')}"}
    platform_admin = {"Authorization": f"Bearer {make_token(None, platform_admin=True)}"}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=svc), base_url="http://svc") as up:
            gw = create_gateway(GatewaySettings(**fields), upstreams={"session-svc": up})
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://gw") as c:
                body = {"service": "daily", "name": "canary", "secret": secret, "metadata": {"kind": "canary"}}
                made = await c.post(f"/api/voice/credentials?orgId={org}", json=body, headers=org_admin)
                assert made.status_code == 201, made.text
                one = f"/api/voice/credentials/{made.json()['id']}?orgId={org}"
                calls = [
                    ("GET", f"/api/voice/credentials?orgId={org}", None, 200), ("GET", one, None, 200),
                    ("PATCH", one, {"name": "canary renamed", "secret": secret}, 200),
                    ("POST", one.replace("?", "/validate?"), None, 200),  # unreachable, said in words
                    ("POST", f"/api/voice/credentials?orgId={org}", body, 409),  # one active already
                    ("POST", f"/api/voice/credentials?orgId={org}", {**body, "unknown": 1}, 422),
                    ("PATCH", one, {"secret": secret, "name": None}, 422),
                ]
                for method, url, payload, status in calls:
                    answer = await c.request(method, url, json=payload, headers=org_admin)
                    assert answer.status_code == status, f"{method} {url}: {answer.status_code}"
                # Inactive: an active platform key would be every key-less org's key, legitimately.
                made = await c.post("/api/voice/admin/credentials", headers=platform_admin,
                                    json={**body, "active": False})
                assert made.status_code == 201, made.text
                for answer in (
                    await c.post(f"/api/voice/admin/credentials/{made.json()['id']}/validate",
                                 headers=platform_admin),
                    await c.get("/api/voice/admin/credentials", headers=platform_admin),
                ):
                    assert answer.status_code == 200, answer.request.url
    finally:
        await svc.state.sessions.kw["bind"].dispose()


async def stored_text(env: dict[str, str], secret: str) -> list[str]:
    """Where the canary is in clear in the database: every event written, every credential row."""
    import asyncpg

    superuser = make_url(PG)
    url = make_url(env["database_url"]).set(drivername="postgresql", username=superuser.username,
                                            password=superuser.password)
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        rows = await conn.fetch("SELECT 'outbox' AS t, envelope::text AS body FROM session_svc.outbox "
                                "UNION ALL SELECT 'voice_credentials', row_to_json(c)::text "
                                "FROM session_svc.voice_credentials c")
    finally:
        await conn.close()
    return [r["t"] for r in rows if secret in r["body"] or secret.encode().hex() in r["body"]]


def in_own_loop(make: Callable[[], Any]) -> Any:
    """Run a coroutine on a fresh event loop in a thread of its own (the session loop is idle
    while a sync fixture runs, and its connections must not be shared with another loop)."""
    import threading

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(make())
        except BaseException as e:  # handed to the calling thread
            outcome["error"] = e

    thread = threading.Thread(target=target, name="canary")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture(scope="session", autouse=True)
def credential_canary(request: pytest.FixtureRequest) -> Iterator[str]:
    """A credential set to a unique secret early in the run; at the end, the secret must be in no
    log line, HTTP response body or event of the whole run (nor in clear in the database).

    Runs without I/O when the run has no integration test (``make test-unit``)."""
    import json
    import logging

    secret = f"canary-{uuid.uuid4().hex}{uuid.uuid4().hex[:12]}"
    watch = SecretWatch(secret)
    problems: list[str] = []
    integration = any("platform_env" in getattr(item, "fixturenames", ()) for item in request.session.items)
    with pytest.MonkeyPatch.context() as patch:
        watch.install(patch)
        try:
            env: dict[str, str] = {}
            events: EventLog | None = None
            if integration:
                env = request.getfixturevalue("platform_env")
                events = request.getfixturevalue("event_log")
                make_token = request.getfixturevalue("token")
                try:
                    in_own_loop(lambda: exercise_canary(env, make_token, secret))
                except Exception as e:  # reported at the end: one broken fixture must not error every test
                    problems.append(f"the canary could not be exercised: {type(e).__name__}: {e}")
            yield secret
            problems += watch.leaks
            if events is not None:
                problems += [f"event {e.get('type')}" for e in events.events if secret in json.dumps(e)]
            if integration:
                problems += [f"in clear in table {t}" for t in in_own_loop(lambda: stored_text(env, secret))]
                if not watch.responses:
                    problems.append("the canary watched no HTTP response: the watch is broken")
        finally:
            logging.getLogger().removeHandler(watch.handler)
    assert not problems, "credential canary:\n" + "\n".join(problems)
