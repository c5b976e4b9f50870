"""Deletes a session's rooms when it ends, whichever way it ended (user, bot, timeout, delete)."""

from faststream.rabbit import RabbitBroker

from session_svc.rooms.service import Rooms
from session_svc.settings import SessionSettings
from voice_shared.bus import consume, subscription
from voice_shared.contracts import Envelope, SessionEnded


def register(broker: RabbitBroker, settings: SessionSettings, rooms: Rooms) -> None:
    cleanup = subscription("session-svc", "room-cleanup")

    @consume(broker, settings.bus_namespace, cleanup, SessionEnded)
    async def on_session_ended(event: SessionEnded, env: Envelope) -> None:
        # Deleting is idempotent and a provider failure stays on the room for the sweeper, so
        # only a database failure makes this message come back.
        await rooms.release_session(env.org, event.session_id)
