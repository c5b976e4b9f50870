"""transcript-svc's event handlers: every transcript segment the bot publishes is stored."""

from faststream.rabbit import RabbitBroker

from transcript_svc import service
from transcript_svc.settings import TranscriptSettings
from voice_shared.bus import consume, subscription
from voice_shared.contracts import Envelope, TranscriptSegment
from voice_shared.db import SessionMaker


def register(broker: RabbitBroker, settings: TranscriptSettings, db: SessionMaker) -> None:
    segments = subscription("transcript-svc", "segments")

    @consume(broker, settings.bus_namespace, segments, TranscriptSegment)
    async def on_transcript_segment(event: TranscriptSegment, env: Envelope) -> None:
        await service.store_segment(db, env.org, event, segments.consumer, env.event_id)
