"""Keeps the newest revision of every session's transcript; forgets a deleted one and what was scored from it."""

from faststream.rabbit import RabbitBroker

from session_svc.settings import SessionSettings
from session_svc.transcripts import service
from voice_shared.bus import consume, subscription
from voice_shared.contracts import Envelope, TranscriptCompleted, TranscriptDeleted
from voice_shared.db import SessionMaker


def register(broker: RabbitBroker, settings: SessionSettings, db: SessionMaker) -> None:
    completed, deleted = subscription("session-svc", "transcripts"), subscription("session-svc", "transcripts-deleted")

    @consume(broker, settings.bus_namespace, completed, TranscriptCompleted)
    async def on_transcript_completed(event: TranscriptCompleted, env: Envelope) -> None:
        await service.record_revision(db, env.org, event, env.occurred_at, completed.consumer, env.event_id)

    @consume(broker, settings.bus_namespace, deleted, TranscriptDeleted)
    async def on_transcript_deleted(event: TranscriptDeleted, env: Envelope) -> None:
        await service.forget(db, env.org, event, deleted.consumer, env.event_id)
