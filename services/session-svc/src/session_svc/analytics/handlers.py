"""Keeps every session's current analytics (the highest version) and its reviewers' decision."""

from faststream.rabbit import RabbitBroker

from session_svc.analytics import service
from session_svc.settings import SessionSettings
from voice_shared.bus import consume, subscription
from voice_shared.contracts import AnalyticsCompleted, AnalyticsReviewed, Envelope
from voice_shared.db import SessionMaker


def register(broker: RabbitBroker, settings: SessionSettings, db: SessionMaker) -> None:
    completed, reviewed = subscription("session-svc", "analytics"), subscription("session-svc", "analytics-reviewed")

    @consume(broker, settings.bus_namespace, completed, AnalyticsCompleted)
    async def on_analytics_completed(event: AnalyticsCompleted, env: Envelope) -> None:
        await service.record_analytics(db, env.org, event, env.occurred_at, completed.consumer, env.event_id)

    @consume(broker, settings.bus_namespace, reviewed, AnalyticsReviewed)
    async def on_analytics_reviewed(event: AnalyticsReviewed, env: Envelope) -> None:
        await service.record_review(db, env.org, event, env.occurred_at, reviewed.consumer, env.event_id)
