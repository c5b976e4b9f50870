"""transcript-svc's event handlers: every transcript segment the bot publishes is stored."""

from faststream.rabbit import RabbitBroker

from transcript_svc import service
from transcript_svc.settings import TranscriptSettings
from voice_shared.bus import consume, subscription
from voice_shared.contracts import Envelope, TranscriptSegment
from voice_shared.db import SessionMaker


class SegmentWithoutOrg(ValueError):
    """A segment must name its org: it cannot be stored (and ends in the dead-letter queue)."""


def register(broker: RabbitBroker, settings: TranscriptSettings, db: SessionMaker) -> None:
    segments = subscription("transcript-svc", "segments")

    @consume(broker, settings.bus_namespace, segments)
    async def on_transcript_segment(env: Envelope) -> None:
        event = TranscriptSegment.model_validate(env.payload)
        if env.org_id is None:
            raise SegmentWithoutOrg(f"transcript.segment {env.event_id} has no org_id")
        await service.store_segment(db, env.org_id, event, segments.consumer, env.event_id)
