"""session-svc's event handlers: bot reports move sessions through their lifecycle."""

from faststream.rabbit import RabbitBroker

from session_svc import service
from session_svc.dispatch import service as dispatch
from session_svc.settings import SessionSettings
from voice_shared.bus import consume, subscription
from voice_shared.contracts import BotFinished, BotJoined, BotReleased, Envelope, SessionDispatched, SessionStatus
from voice_shared.db import SessionMaker

LOST_BOT_JOBS = "session-svc.lost-bot-jobs"  # the inbox's consumer name for dead-lettered bot jobs


def register(broker: RabbitBroker, settings: SessionSettings, db: SessionMaker) -> None:
    ns = settings.bus_namespace
    joined, finished = subscription("session-svc", "bot-joined"), subscription("session-svc", "bot-finished")
    released = subscription("session-svc", "bot-released")
    jobs = subscription("bot", "jobs")

    @consume(broker, ns, joined, BotJoined)
    async def on_bot_joined(event: BotJoined, env: Envelope) -> None:
        await service.apply_bot_event(
            db, env.org, event.session_id, SessionStatus.active, None,
            joined.consumer, env.event_id, env.correlation_id,
        )

    @consume(broker, ns, finished, BotFinished)
    async def on_bot_finished(event: BotFinished, env: Envelope) -> None:
        target = SessionStatus.completed if event.outcome == "completed" else SessionStatus.failed
        await service.apply_bot_event(
            db, env.org, event.session_id, target, event.reason,
            finished.consumer, env.event_id, env.correlation_id,
        )

    @consume(broker, ns, released, BotReleased)
    async def on_bot_released(event: BotReleased, env: Envelope) -> None:
        await dispatch.release(db, env.org, event.session_id, released.consumer, env.event_id)

    @consume(broker, ns, jobs, SessionDispatched, dead_letters=True)
    async def on_bot_job_lost(event: SessionDispatched, env: Envelope) -> None:
        # A job dead-lettered past its delivery limit: the bots that took it died (or could not run
        # it) that many times. Its session fails instead of waiting for a bot that will not come.
        await service.apply_bot_event(
            db, env.org, event.session_id, SessionStatus.failed, "bot_lost",
            LOST_BOT_JOBS, env.event_id, env.correlation_id,
        )
