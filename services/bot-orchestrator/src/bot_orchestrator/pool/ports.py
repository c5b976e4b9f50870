"""The port a bot runtime implements: local worker processes, or the bot Deployment on Kubernetes.

The orchestrator decides (``policy``); a backend only carries the decision out. Bot ids are what the
bots report in their heartbeats: the local backend chooses them (``VOICE_BOT_ID``), on Kubernetes they
are pod names (the Deployment sets ``VOICE_BOT_ID`` from ``metadata.name``).
"""

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Scaling:
    """One step of the pool: ``replicas`` bots wanted in total once it is done.

    ``start`` new bots are wanted; ``stop`` names idle bots to let go (oldest first); ``busy`` names the
    bots serving interviews, which must survive the step whatever the runtime does.
    """

    replicas: int
    start: int = 0
    stop: tuple[str, ...] = ()
    busy: tuple[str, ...] = field(default=())


class BotBackend(Protocol):
    """Starts and stops bot workers. Every call is idempotent enough to be retried on the next reconcile."""

    name: str

    async def size(self) -> int:
        """Bots the runtime runs or is starting now (local: live processes; Kubernetes: the Deployment's replicas)."""

    async def scale(self, step: Scaling) -> list[str]:
        """Carry out ``step``; returns the ids of the bots it started, where it knows them (local), else []."""

    async def kill(self, bot_id: str) -> None:
        """End a bot that stopped answering (lost) at once, so RabbitMQ hands its job to another bot."""

    async def exited(self) -> list[str]:
        """Bots that ended since the last call, where the runtime can tell (local processes); else []."""

    async def aclose(self) -> None:
        """Let go of the runtime's clients (the local backend stops its processes)."""
