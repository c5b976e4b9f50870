"""Daily rooms: the bot joins the session's private room with its owner meeting token (``DailyTransport``).

session-svc provisions the room and gives the bot its token (``SessionApi.room``); the candidate joins
from the join page's Daily iframe. A ``DailyTransport`` reaches Daily's servers only when its pipeline
starts (it joins the room then): building one opens no connection.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from pipecat.transports.base_transport import BaseTransport

from bot_orchestrator.worker.pipeline import transport_params
from voice_shared.api.rooms import RoomAccess

if TYPE_CHECKING:
    from pipecat.transports.daily.transport import DailyParams

# The room and the bot's display name → a transport whose pipeline joins that room.
DailyTransportFactory = Callable[[RoomAccess, str], BaseTransport]


def daily_unavailable() -> str | None:
    """Why this worker cannot join Daily rooms (pipecat's ``daily`` extra is missing), else None."""
    try:
        import pipecat.transports.daily.transport  # noqa: F401
    except ImportError as e:
        return (f"transport_unavailable: this bot worker cannot join Daily rooms ({e}); it needs "
                f"pipecat-ai[daily] (daily-python)")
    return None


def daily_params() -> "DailyParams":
    """The local transport's audio (16 kHz in, 24 kHz out); VAD and end of turn stay on the user aggregator."""
    from pipecat.transports.daily.transport import DailyParams

    return DailyParams(**dict(transport_params()))


def daily_transport(room: RoomAccess, bot_name: str) -> BaseTransport:
    from pipecat.transports.daily.transport import DailyTransport

    return DailyTransport(room.url, room.token, bot_name, params=daily_params())
