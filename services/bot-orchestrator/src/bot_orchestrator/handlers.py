"""bot-orchestrator's event handlers: the pool hears heartbeats and follows each session to its bot."""

from faststream.rabbit import RabbitBroker

from bot_orchestrator.service import Pool
from bot_orchestrator.settings import OrchestratorSettings
from voice_shared.bus import consume, subscription
from voice_shared.contracts import BotHeartbeat, BotJoined, BotReleased, Envelope, SessionDispatched, SessionEnded


def register(broker: RabbitBroker, settings: OrchestratorSettings, pool: Pool) -> None:
    ns = settings.bus_namespace

    def sub(purpose: str):  # type: ignore[no-untyped-def]  # the subscription's queue and its consume path
        return subscription("bot-orchestrator", purpose)

    # An idle bot's heartbeat names no org: it belongs to the platform.
    @consume(broker, ns, sub("heartbeats"), BotHeartbeat, org_required=False)
    async def on_heartbeat(beat: BotHeartbeat, env: Envelope) -> None:
        await pool.on_heartbeat(beat, env)

    @consume(broker, ns, sub("dispatches"), SessionDispatched)
    async def on_dispatched(job: SessionDispatched, env: Envelope) -> None:
        await pool.on_dispatched(job, env)

    @consume(broker, ns, sub("joined"), BotJoined)
    async def on_joined(joined: BotJoined, env: Envelope) -> None:
        await pool.on_joined(joined, env)

    @consume(broker, ns, sub("released"), BotReleased)
    async def on_released(released: BotReleased, env: Envelope) -> None:
        await pool.on_released(released, env)

    @consume(broker, ns, sub("sessions-ended"), SessionEnded)
    async def on_session_ended(ended: SessionEnded, env: Envelope) -> None:
        await pool.on_session_ended(ended, env)
