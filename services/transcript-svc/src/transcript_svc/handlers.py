"""transcript-svc's event handlers: segments are stored as they come; a session's end finalises them."""

from faststream.rabbit import RabbitBroker

from transcript_svc import service
from transcript_svc.archive import Archive
from transcript_svc.settings import TranscriptSettings
from voice_shared.bus import consume, subscription
from voice_shared.contracts import Envelope, OrgSettingsUpdated, RecordingCompleted, SessionEnded, TranscriptSegment
from voice_shared.db import SessionMaker
from voice_shared.outbox import OutboxRelay


def register(
    broker: RabbitBroker, settings: TranscriptSettings, db: SessionMaker, archive: Archive, relay: OutboxRelay
) -> None:
    segments, finalise = subscription("transcript-svc", "segments"), subscription("transcript-svc", "finalise")
    retention, recordings = subscription("transcript-svc", "retention"), subscription("transcript-svc", "recordings")

    @consume(broker, settings.bus_namespace, segments, TranscriptSegment)
    async def on_transcript_segment(event: TranscriptSegment, env: Envelope) -> None:
        await service.store_segment(db, archive, env.org, event, segments.consumer, env.event_id, env.correlation_id)
        relay.wake()  # a late segment may have revised the transcript

    @consume(broker, settings.bus_namespace, finalise, SessionEnded)
    async def on_session_ended(event: SessionEnded, env: Envelope) -> None:
        await service.finalise(db, archive, env.org, event, finalise.consumer, env.event_id, env.correlation_id)
        relay.wake()

    @consume(broker, settings.bus_namespace, retention, OrgSettingsUpdated)
    async def on_org_settings_updated(event: OrgSettingsUpdated, env: Envelope) -> None:
        await service.set_retention(db, env.org, event.retention_days, retention.consumer, env.event_id)

    @consume(broker, settings.bus_namespace, recordings, RecordingCompleted)
    async def on_recording_completed(event: RecordingCompleted, env: Envelope) -> None:
        await service.store_recording(db, archive, env.org, event, recordings.consumer, env.event_id)
