"""session-svc's event handlers: bot reports move sessions through their lifecycle."""

from faststream.rabbit import RabbitBroker

from session_svc import service
from session_svc.settings import SessionSettings
from voice_shared.bus import consume, subscription
from voice_shared.contracts import BotFinished, BotJoined, Envelope, SessionStatus
from voice_shared.db import SessionMaker


def register(broker: RabbitBroker, settings: SessionSettings, db: SessionMaker) -> None:
    ns = settings.bus_namespace
    joined, finished = subscription("session-svc", "bot-joined"), subscription("session-svc", "bot-finished")

    @consume(broker, ns, joined)
    async def on_bot_joined(env: Envelope) -> None:
        event = BotJoined.model_validate(env.payload)
        if env.org_id is not None:
            await service.apply_bot_event(
                db, env.org_id, event.session_id, SessionStatus.active, None,
                joined.consumer, env.event_id, env.correlation_id,
            )

    @consume(broker, ns, finished)
    async def on_bot_finished(env: Envelope) -> None:
        event = BotFinished.model_validate(env.payload)
        target = SessionStatus.completed if event.outcome == "completed" else SessionStatus.failed
        if env.org_id is not None:
            await service.apply_bot_event(
                db, env.org_id, event.session_id, target, event.reason,
                finished.consumer, env.event_id, env.correlation_id,
            )
