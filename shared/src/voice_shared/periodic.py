"""Work that comes round again: sweepers and the pool's reconcile loop."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger()


async def every(seconds: float, stopping: asyncio.Event, work: Callable[[], Awaitable[object]], failed: str) -> None:
    """``work()`` at once, then every ``seconds`` until ``stopping`` is set. A failure is logged as ``failed``
    and the next turn comes: the loop outlives an outage of what it works on (a database, a provider)."""
    while not stopping.is_set():
        try:
            await work()
        except Exception:
            log.exception(failed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)
