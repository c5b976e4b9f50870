"""The live transcript's fan-out: every viewer of a session, fed in memory from this process's queues.

Each gateway process consumes ``transcript.segment``, ``bot.joined`` and ``session.ended`` from
queues of its own (exclusive, deleted with its connection), so any number of replicas each serve
their own viewers. A viewer whose backlog passes ``max_pending`` is marked too slow and dropped by
its connection, so one slow reader never holds back the others.
"""

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from faststream.rabbit import RabbitBroker

from voice_shared.api.transcripts import StoredSegment
from voice_shared.bus import consume_instance
from voice_shared.contracts import BotJoined, Envelope, SessionEnded, TranscriptSegment

log = structlog.get_logger()

# One segment or one status change, as the viewer's socket sends it.
Message = dict[str, Any]
END = "end"  # the item after the final status: the socket closes


@dataclass(frozen=True)
class Outgoing:
    """A message and its JSON, encoded once for every viewer of the session."""

    message: Message
    text: str

    @classmethod
    def of(cls, message: Message) -> "Outgoing":
        return cls(message, json.dumps(message, separators=(",", ":")))


@dataclass(eq=False)
class Viewer:
    """One connected viewer: what is waiting to be sent, and which sequences it already has."""

    max_pending: int
    pending: asyncio.Queue[Outgoing] = field(init=False)
    too_slow: asyncio.Event = field(default_factory=asyncio.Event)
    sent: dict[int, bool] = field(default_factory=dict)  # sequence -> whether the final version was sent
    after: int = -1  # the viewer had every sequence up to this one before it connected

    def __post_init__(self) -> None:
        self.pending = asyncio.Queue(self.max_pending)

    def offer(self, message: Outgoing) -> None:
        try:
            self.pending.put_nowait(message)
        except asyncio.QueueFull:
            self.too_slow.set()

    def wants(self, segment: Message) -> bool:
        """A segment it has not had, or the final version of one it had only as interim; then noted."""
        sequence, final = segment["sequence"], segment["final"]
        if sequence <= self.after or self.sent.get(sequence, False) or (sequence in self.sent and not final):
            return False
        self.sent[sequence] = final
        return True


class LiveHub:
    """Viewers by session, in this process."""

    def __init__(self) -> None:
        self._viewers: dict[UUID, set[Viewer]] = defaultdict(set)

    def add(self, session_id: UUID, viewer: Viewer) -> None:
        self._viewers[session_id].add(viewer)

    def remove(self, session_id: UUID, viewer: Viewer) -> None:
        viewers = self._viewers.get(session_id)
        if viewers is not None:
            viewers.discard(viewer)
            if not viewers:
                del self._viewers[session_id]

    def viewers(self, session_id: UUID) -> int:
        return len(self._viewers.get(session_id, ()))

    def publish(self, session_id: UUID, message: Message) -> None:
        viewers = self._viewers.get(session_id)
        if not viewers:
            return
        outgoing = Outgoing.of(message)
        for viewer in list(viewers):
            viewer.offer(outgoing)


def segment_message(segment: TranscriptSegment) -> Message:
    """A segment as viewers receive it: the contract's fields, camelCase, as in the snapshot."""
    stored = StoredSegment.model_validate(segment.model_dump())
    return {"type": "transcript_segment", **stored.model_dump(mode="json", by_alias=True)}


def status_message(status: str, reason: str | None = None, *, final: bool = False) -> Message:
    return {"type": "session_status", "status": status, "reason": reason, "final": final}


def register(broker: RabbitBroker, namespace: str, hub: LiveHub, end_grace_seconds: float) -> None:
    """Feed ``hub`` from this process's own queues."""
    owner = "gateway.live"

    @consume_instance(broker, namespace, owner, TranscriptSegment, prefetch=256)
    async def on_live_segment(event: TranscriptSegment, env: Envelope) -> None:
        hub.publish(event.session_id, segment_message(event))

    @consume_instance(broker, namespace, owner, BotJoined)
    async def on_live_bot_joined(event: BotJoined, env: Envelope) -> None:
        hub.publish(event.session_id, status_message("active"))

    @consume_instance(broker, namespace, owner, SessionEnded)
    async def on_live_session_ended(event: SessionEnded, env: Envelope) -> None:
        # Segments travel on another queue: the last ones may still be on their way. After a short
        # grace the final status goes out and the sockets close (the final transcript has them all).
        final = status_message(event.status, event.reason, final=True)

        def close() -> None:
            hub.publish(event.session_id, final)
            hub.publish(event.session_id, {"type": END, "status": event.status})

        asyncio.get_running_loop().call_later(end_grace_seconds, close)

