"""analytics-svc's event handlers: a final transcript (or a revision of it) is scored; a deleted one forgotten."""

from faststream.rabbit import RabbitBroker

from analytics_svc import service
from analytics_svc.settings import AnalyticsSettings
from voice_shared.bus import consume, subscription
from voice_shared.contracts import Envelope, TranscriptCompleted, TranscriptDeleted
from voice_shared.db import SessionMaker
from voice_shared.outbox import OutboxRelay


def register(
    broker: RabbitBroker, settings: AnalyticsSettings, db: SessionMaker, sources: service.Sources, relay: OutboxRelay
) -> None:
    score, forget = subscription("analytics-svc", "score"), subscription("analytics-svc", "forget")

    @consume(broker, settings.bus_namespace, score, TranscriptCompleted)
    async def on_transcript_completed(event: TranscriptCompleted, env: Envelope) -> None:
        await service.on_transcript_completed(db, sources, env.org, event, score.consumer, env.event_id,
                                              env.correlation_id)
        relay.wake()

    @consume(broker, settings.bus_namespace, forget, TranscriptDeleted)
    async def on_transcript_deleted(event: TranscriptDeleted, env: Envelope) -> None:
        await service.forget(db, env.org, event, forget.consumer, env.event_id)
