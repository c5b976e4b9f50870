"""A whole platform for end-to-end tests and benchmarks: `voice run` plus bot workers, isolated.

Each stack has a database, a bus namespace and ports of its own, so it runs beside `make run` and
beside other stacks, and leaves nothing behind (``stop`` drops the database and the namespace).
``BusTap`` reads every event of the stack's namespace from the real broker.
"""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from voice_cli.infra import DEFAULT_SUPERUSER_URL, SUPERUSER_URL_ENV
from voice_cli.registry import SERVICES
from voice_shared.settings import ServiceSettings

READY_LINE = "The platform is running"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class BotProcess:
    """One bot worker process (``python -m bot_orchestrator.worker``) with a known bot id."""

    bot_id: str
    process: subprocess.Popen[bytes]
    started_at: float  # monotonic, when the process was spawned
    log: Path


@dataclass
class LocalStack:
    """`voice run`'s services and bot workers on a database and bus namespace of their own.

    ``run_bots`` are the warm bots `voice run`'s orchestrator keeps (as `make run` does, with 2); with
    ``pool_backend="external"`` it starts none, and ``start_bot`` adds workers this object controls, e.g.
    to kill one or to time a cold start.
    """

    workdir: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    superuser_url: str = field(default_factory=lambda: os.environ.get(SUPERUSER_URL_ENV, DEFAULT_SUPERUSER_URL))
    amqp_url: str = field(default_factory=lambda: os.environ.get("VOICE_AMQP_URL", ServiceSettings().amqp_url))
    run_bots: int = 0  # warm bots `voice run`'s orchestrator keeps (VOICE_POOL_MIN_IDLE)
    pool_backend: str = "local"  # "external": the orchestrator starts no bot; ``start_bot`` does
    extra_env: dict[str, str] = field(default_factory=dict)
    bots: dict[str, BotProcess] = field(default_factory=dict)
    _platform: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.ports = {s.name: free_port() for s in SERVICES}
        self.database = f"voice_e2e_{self.run_id}"
        self.namespace = f"e2e{self.run_id}"
        server = make_url(self.superuser_url).set(database=None)
        app = server.set(username="voice_app", password=None, database=self.database)
        owner = server.set(username="voice_owner", password=None, database=self.database)
        self.env = {
            **os.environ,
            "VOICE_DATABASE_URL": app.render_as_string(hide_password=False),
            "VOICE_MIGRATION_DATABASE_URL": owner.render_as_string(hide_password=False),
            "VOICE_AMQP_URL": self.amqp_url,
            "VOICE_BUS_NAMESPACE": self.namespace,
            "VOICE_ENVIRONMENT": "test",
            "VOICE_JSON_LOGS": "true",
            SUPERUSER_URL_ENV: self.superuser_url,
            "VOICE_POOL_MIN_IDLE": str(self.run_bots),
            "VOICE_POOL_BACKEND": self.pool_backend,
            "VOICE_PUBLIC_URL": self.gateway_url_for(self.ports["gateway"]),
            "VOICE_OBJECT_STORE_DIR": str(self.objects_dir),
            **{f"{s.env_prefix}_PORT": str(self.ports[s.name]) for s in SERVICES},
            **{f"{s.env_prefix}_URL": self.gateway_url_for(self.ports[s.name]) for s in SERVICES},
            **self.extra_env,
        }
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def objects_dir(self) -> Path:
        """The stack's local object store: archived transcripts and recordings."""
        return self.workdir / "objects"

    @staticmethod
    def gateway_url_for(port: int) -> str:
        return f"http://127.0.0.1:{port}"

    @property
    def gateway_url(self) -> str:
        return self.gateway_url_for(self.ports["gateway"])

    @property
    def settings(self) -> ServiceSettings:
        """What the stack's processes read (the same secrets: tokens minted with it are accepted)."""
        return ServiceSettings(bus_namespace=self.namespace, amqp_url=self.amqp_url)

    @property
    def platform_log(self) -> Path:
        return self.workdir / "platform.log"

    def start(self, timeout: float = 120.0) -> None:
        """`voice run` with this stack's environment; returns once every service is healthy."""
        with self.platform_log.open("w") as out:
            self._platform = subprocess.Popen([sys.executable, "-m", "voice_cli", "run"], env=self.env,
                                              stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while READY_LINE not in self.platform_log.read_text(errors="replace"):
            if self._platform.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"voice run did not come up:\n{self.tail(self.platform_log)}")
            time.sleep(0.2)

    def start_bot(self, name: str | None = None) -> BotProcess:
        """One more bot worker; it loads its models, then announces itself idle with a heartbeat."""
        bot_id = name or f"e2e-bot-{len(self.bots) + 1}-{self.run_id}"
        log = self.workdir / f"{bot_id}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot_orchestrator.worker"], env={**self.env, "VOICE_BOT_ID": bot_id},
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        bot = BotProcess(bot_id, process, time.monotonic(), log)
        self.bots[bot_id] = bot
        return bot

    def kill_bot(self, bot_id: str, sig: int = signal.SIGKILL) -> None:
        """Signal a worker started with ``start_bot`` (`voice run`'s own are its supervisor's)."""
        bot = self.bots.get(bot_id)
        if bot is None:
            raise KeyError(f"{bot_id} was not started by start_bot; started: {', '.join(self.bots) or 'none'}")
        bot.process.send_signal(sig)
        bot.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop bots and services, then drop the database and the bus namespace."""
        processes = [b.process for b in self.bots.values()] + ([self._platform] if self._platform else [])
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        asyncio.run(self._cleanup())

    async def _cleanup(self) -> None:
        from voice_shared.bus import delete_topology
        from voice_shared.dbsetup import drop_database

        await drop_database(self.superuser_url, self.database)
        await delete_topology(self.amqp_url, self.namespace)

    @staticmethod
    def tail(path: Path, lines: int = 60) -> str:
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def logs(self) -> str:
        """The last lines of every process's log, for a failing test's message."""
        parts = [f"--- voice run\n{self.tail(self.platform_log)}"]
        parts += [f"--- {b.bot_id} (exit {b.process.poll()})\n{self.tail(b.log)}" for b in self.bots.values()]
        return "\n".join(parts)


@dataclass(frozen=True)
class Seen:
    """An event as the tap received it, with the monotonic time it arrived."""

    at: float
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body.get("type"))

    @property
    def payload(self) -> dict[str, Any]:
        return dict(self.body.get("payload") or {})


class BusTap:
    """Every event published on a namespace's exchange, received over the real broker."""

    def __init__(self, amqp_url: str, namespace: str) -> None:
        self.amqp_url = amqp_url
        self.namespace = namespace
        self.events: list[Seen] = []
        self._changed = asyncio.Condition()
        self._connection: Any = None

    async def start(self) -> "BusTap":
        import aio_pika

        self._connection = await aio_pika.connect(self.amqp_url)
        channel = await self._connection.channel()
        exchange = await channel.get_exchange(f"{self.namespace}.events")
        tap = await channel.declare_queue(exclusive=True, auto_delete=True)
        await tap.bind(exchange, routing_key="#")

        async def on_message(message: Any) -> None:
            async with message.process():
                seen = Seen(time.monotonic(), json.loads(message.body))
            async with self._changed:
                self.events.append(seen)
                self._changed.notify_all()

        await tap.consume(on_message)
        return self

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    def of(self, type_: str, session_id: object = None, **payload: Any) -> list[Seen]:
        """Events of a type (and session), whose payload has the given values."""
        return [e for e in self.events if e.type == type_
                and (session_id is None or e.body.get("session_id") == str(session_id))
                and all(e.payload.get(k) == v for k, v in payload.items())]

    async def wait_for(self, found: Callable[[], Any], timeout: float) -> Any:  # noqa: ASYNC109
        """Wait until ``found()`` is truthy (re-checked on every event); returns its value."""

        async def truthy() -> Any:
            async with self._changed:
                await self._changed.wait_for(found)
            return found()

        return await asyncio.wait_for(truthy(), timeout)

    async def idle_bots(self, count: int, timeout: float, since: float = 0.0) -> list[Seen]:  # noqa: ASYNC109
        """Wait for ``count`` distinct bots whose latest heartbeat (after ``since``) says idle."""

        def idle() -> list[Seen]:
            latest: dict[str, Seen] = {}
            for beat in self.of("bot.heartbeat"):
                if beat.at >= since:
                    latest[beat.payload["bot_id"]] = beat
            ready = [b for b in latest.values() if b.payload["state"] == "idle"]
            return ready if len(ready) >= count else []

        return list(await self.wait_for(idle, timeout))
