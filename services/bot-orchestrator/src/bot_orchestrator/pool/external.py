"""Bots run by something else (by hand with `voice bot`, a systemd unit, another supervisor).

The orchestrator still knows them from their heartbeats, queues dispatched sessions and declares the
silent ones lost; it starts and stops nothing, so the pool is whatever is running.
"""

from bot_orchestrator.pool.ports import Scaling


class ExternalBackend:
    name = "external"

    def __init__(self) -> None:
        self.running = 0  # the orchestrator tells it how many bots it hears from

    async def size(self) -> int:
        return self.running

    async def scale(self, step: Scaling) -> list[str]:
        return []

    async def kill(self, bot_id: str) -> None:
        return None

    async def exited(self) -> list[str]:
        return []

    async def aclose(self) -> None:
        return None
