"""The bot pool on this machine: one worker process (``python -m bot_orchestrator.worker``) per bot.

Each worker gets its id from the backend (``VOICE_BOT_ID``), loads its models, then says it is warm with
a heartbeat. Stopping one is SIGTERM (it finishes or hands back its job, then exits); a lost one is
SIGKILLed, so RabbitMQ hands its job to another bot at once. Workers die with the orchestrator
(``PR_SET_PDEATHSIG`` on Linux), so a crashed orchestrator leaves no bot behind; its replacement
starts fresh ones.
"""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence

import structlog

from bot_orchestrator.pool.ports import Scaling
from bot_orchestrator.worker.keeper import die_with_parent

log = structlog.get_logger()

WORKER = (sys.executable, "-m", "bot_orchestrator.worker")
STOP_SECONDS = 10.0


class LocalBackend:
    """Worker processes of this orchestrator, by bot id."""

    name = "local"

    def __init__(self, env: Mapping[str, str] | None = None, command: Sequence[str] = WORKER) -> None:
        self._env = dict(env if env is not None else os.environ)
        self._command = list(command)
        self._workers: dict[str, subprocess.Popen[bytes]] = {}
        self._prefix = f"bot-{os.uname().nodename}-{uuid.uuid4().hex[:4]}"
        self._count = 0

    def pid(self, bot_id: str) -> int | None:
        process = self._workers.get(bot_id)
        return process.pid if process is not None else None

    async def size(self) -> int:
        return sum(p.poll() is None for p in self._workers.values())

    async def scale(self, step: Scaling) -> list[str]:
        for bot_id in step.stop:
            process = self._workers.get(bot_id)
            if process is not None and process.poll() is None:
                log.info("bot_stopping", bot_id=bot_id, pid=process.pid)
                process.send_signal(signal.SIGTERM)
        return [self._spawn() for _ in range(step.start)]

    def _spawn(self) -> str:
        self._count += 1
        bot_id = f"{self._prefix}-{self._count}"
        # A session of its own: a terminal's Ctrl-C reaches the orchestrator, which stops the workers in order.
        # Its output goes where the orchestrator's goes (`voice run`'s console).
        process = subprocess.Popen(self._command, env={**self._env, "VOICE_BOT_ID": bot_id},
                                   start_new_session=True, preexec_fn=die_with_parent)
        self._workers[bot_id] = process
        log.info("bot_started", bot_id=bot_id, pid=process.pid)
        return bot_id

    async def kill(self, bot_id: str) -> None:
        process = self._workers.get(bot_id)
        if process is not None and process.poll() is None:
            log.warning("bot_killed", bot_id=bot_id, pid=process.pid)
            process.kill()

    async def exited(self) -> list[str]:
        gone = [bot_id for bot_id, p in self._workers.items() if p.poll() is not None]
        for bot_id in gone:
            log.info("bot_exited", bot_id=bot_id, status=self._workers.pop(bot_id).returncode)
        return gone

    async def aclose(self) -> None:
        alive = [p for p in self._workers.values() if p.poll() is None]
        for process in alive:
            process.send_signal(signal.SIGTERM)
        for process in alive:
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._workers.clear()
