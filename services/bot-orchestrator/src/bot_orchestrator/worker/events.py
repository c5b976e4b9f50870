"""A session's events, published in order and off the audio path.

The bot owns no database, so there is no outbox: each event goes straight to the broker with a
publisher confirm (``voice_shared.bus.publish_envelope``), retried a few times. The pipeline only
enqueues (``emit`` never blocks a frame); one task publishes, so consumers see the session's events
in the order they happened.
"""

import asyncio
from collections.abc import Awaitable, Callable
from uuid import UUID

import structlog

from voice_shared.contracts import Envelope, Event, envelope

log = structlog.get_logger()

Publish = Callable[[Envelope], Awaitable[None]]
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)


class SessionEvents:
    """Publishes one session's events in the order they were emitted."""

    def __init__(self, publish: Publish, org_id: UUID, session_id: UUID, correlation_id: str | None) -> None:
        self._publish = publish
        self._org_id = org_id
        self._session_id = session_id
        self._correlation_id = correlation_id
        self._queue: asyncio.Queue[Envelope | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.published: list[str] = []  # types, in order (for logs and tests)
        self.lost = 0

    def start(self) -> "SessionEvents":
        self._task = asyncio.create_task(self._run(), name=f"events-{self._session_id}")
        return self

    def emit(self, event: Event) -> None:
        self._queue.put_nowait(envelope(
            event, org_id=self._org_id, session_id=self._session_id, correlation_id=self._correlation_id,
        ))

    async def aclose(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Publish what is queued (for at most ``timeout`` seconds), then stop."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            self.lost += self._queue.qsize()
            log.error("session_events_lost", session_id=str(self._session_id), count=self.lost)
        self._task = None

    async def _run(self) -> None:
        while (env := await self._queue.get()) is not None:
            await self._publish_one(env)

    async def _publish_one(self, env: Envelope) -> None:
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            try:
                await self._publish(env)
                self.published.append(env.type)
                return
            except Exception as e:  # a broker hiccup must not stop the interview
                if delay is None:
                    self.lost += 1
                    log.error("event_publish_failed", event_type=env.type, event_id=str(env.event_id),
                              error=f"{type(e).__name__}: {e}")
                    return
                log.warning("event_publish_retry", event_type=env.type, attempt=attempt + 1)
                await asyncio.sleep(delay)
