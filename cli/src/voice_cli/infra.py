"""Postgres and RabbitMQ for local runs: reachability, containers where Docker exists, setup.

Containers are a fallback: where Postgres or RabbitMQ does not answer and a Docker engine does,
``voice run`` starts them with testcontainers.
"""

import asyncio
import os
import shutil
import socket
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url

from voice_cli.registry import with_schema
from voice_shared.bus import declare_topology, make_broker, replace_outdated_queues
from voice_shared.dbsetup import ensure_database
from voice_shared.migrations import upgrade
from voice_shared.settings import ServiceSettings

SUPERUSER_URL_ENV = "VOICE_SUPERUSER_DATABASE_URL"
DEFAULT_SUPERUSER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
POSTGRES, RABBITMQ = "PostgreSQL", "RabbitMQ"
HOW_TO_START = {
    POSTGRES: "Start it with `pg_ctlcluster 15 main start` (Debian) or "
              "`brew services start postgresql` (macOS)",
    RABBITMQ: "Start it with `rabbitmq-server -detached` (or `service rabbitmq-server start`)",
}


def superuser_url() -> str:
    return os.environ.get(SUPERUSER_URL_ENV, DEFAULT_SUPERUSER_URL)


@dataclass(frozen=True)
class Endpoint:
    """A server the platform needs, and the setting its URL came from."""

    kind: str
    variable: str
    url: str

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        default = 5432 if self.kind == POSTGRES else 5672
        return parts.hostname or "127.0.0.1", parts.port or default

    def shown(self) -> str:
        """The URL without its password."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))

    def problem(self, error: OSError) -> str:
        return (
            f"{self.kind} is not reachable at {self.shown()} ({self.variable}): {error}.\n"
            f"  {HOW_TO_START[self.kind]}, or set {self.variable} to a running server."
        )


def endpoints(settings: ServiceSettings, superuser: str) -> list[Endpoint]:
    return [
        Endpoint(POSTGRES, SUPERUSER_URL_ENV, superuser),
        Endpoint(POSTGRES, "VOICE_DATABASE_URL", settings.database_url),
        Endpoint(POSTGRES, "VOICE_MIGRATION_DATABASE_URL", settings.migration_database_url),
        Endpoint(RABBITMQ, "VOICE_AMQP_URL", settings.amqp_url),
    ]


def unreachable(targets: list[Endpoint], timeout: float = 2.0) -> dict[Endpoint, OSError]:
    """The endpoints that refuse or time out a TCP connection, with the error."""
    failures: dict[Endpoint, OSError] = {}
    for target in targets:
        try:
            socket.create_connection(target.address, timeout=timeout).close()
        except OSError as e:
            failures[target] = e
    return failures


# A bot holds its job unacked for the whole interview (so a crash hands it to another bot); RabbitMQ
# takes back a delivery held longer than its consumer_timeout. Configs allow 240 minutes, plus overrun.
LONGEST_INTERVIEW_MS = (240 + 10) * 60 * 1000


def consumer_timeout_problem(settings: ServiceSettings) -> str | None:
    """What is wrong with a local RabbitMQ's consumer_timeout, if it can be read (``rabbitmqctl``)."""
    host = urlsplit(settings.amqp_url).hostname
    if host not in ("127.0.0.1", "localhost") or shutil.which("rabbitmqctl") is None:
        return None
    try:
        out = subprocess.run(["rabbitmqctl", "eval", "application:get_env(rabbit, consumer_timeout)."],
                             capture_output=True, text=True, timeout=15).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not out.startswith("{ok,") or not out[4:-1].isdigit() or int(out[4:-1]) >= LONGEST_INTERVIEW_MS:
        return None  # unreadable, `undefined` (no timeout) or long enough
    minutes = int(out[4:-1]) // 60_000
    return (f"RabbitMQ's consumer_timeout is {minutes} min: an interview longer than that is taken back from "
            f"its bot and loses its crash protection. Set consumer_timeout = 18000000 (5 h) in rabbitmq.conf.")


def docker_available() -> bool:
    try:
        import docker  # type: ignore[import-not-found]  # optional: only where Docker exists
    except ImportError:
        return False
    try:
        return bool(docker.from_env(timeout=3).ping())
    except Exception:  # no socket, no permission, engine down: all mean "no Docker"
        return False


def start_containers(stack: ExitStack, kinds: set[str], settings: ServiceSettings) -> dict[str, str]:
    """Start a container for each kind of server; returns the environment that points at them.

    The containers stop when ``stack`` closes.
    """
    env: dict[str, str] = {}
    if POSTGRES in kinds:
        pg: Any = stack.enter_context(_container("postgres")(
            "postgres:15-alpine", username="postgres", password="postgres", dbname="postgres"))
        host, port = pg.get_container_host_ip(), int(pg.get_exposed_port(5432))
        env[SUPERUSER_URL_ENV] = _moved(DEFAULT_SUPERUSER_URL, host, port, "postgres")
        for variable, url in (("VOICE_DATABASE_URL", settings.database_url),
                              ("VOICE_MIGRATION_DATABASE_URL", settings.migration_database_url)):
            # The image asks for passwords over TCP; ensure_database gives roles the URL's.
            user = make_url(url).username or "voice"
            env[variable] = _moved(url, host, port, make_url(url).password or user)
    if RABBITMQ in kinds:
        mq: Any = stack.enter_context(_container("rabbitmq")("rabbitmq:3.13-alpine"))
        host, port = mq.get_container_host_ip(), int(mq.get_exposed_port(5672))
        env["VOICE_AMQP_URL"] = f"amqp://guest:guest@{host}:{port}/"
    return env


def _container(module: str) -> Any:
    import importlib

    # testcontainers 4.15 moved the modules under `community`; older releases have them on top.
    for name in (f"testcontainers.community.{module}", f"testcontainers.{module}"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        return mod.PostgresContainer if module == "postgres" else mod.RabbitMqContainer
    raise RuntimeError(
        'Docker is available but testcontainers is not installed: '
        'uv pip install "testcontainers[postgres,rabbitmq]"'
    )


def _moved(url: str, host: str, port: int, password: str) -> str:
    moved = make_url(url).set(host=host, port=port, password=password)
    return moved.render_as_string(hide_password=False)


async def setup_database(settings: ServiceSettings, superuser: str) -> list[str]:
    """Create roles, database and schemas, then migrate every service to head."""
    services = with_schema()
    schemas = [s.schema for s in services if s.schema]
    await ensure_database(superuser, settings.database_url, settings.migration_database_url, schemas)
    app_role = make_url(settings.database_url).username or "voice_app"
    for service in services:
        assert service.schema is not None
        await asyncio.to_thread(
            upgrade, service.migrations_dir(), settings.migration_database_url, service.schema,
            app_role,
        )
    return schemas


async def declare_bus(settings: ServiceSettings) -> None:
    for name in await replace_outdated_queues(settings.amqp_url, settings.bus_namespace):
        print(f"replaced queue {name}: it was empty and declared with older arguments")
    broker = make_broker(settings)
    await broker.connect()
    try:
        await declare_topology(broker, settings.bus_namespace)
    finally:
        await broker.stop()
