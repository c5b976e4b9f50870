"""Rooms of sessions as the API shows them: where to join, never a token in a listing."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from voice_shared.api.common import ApiModel

RoomProviderName = Literal["local", "daily"]


class RoomPublic(ApiModel):
    """The session's current room (managers only, on single-session reads; never in lists)."""

    provider: RoomProviderName = Field(description="'local': WebRTC signalled through the gateway; 'daily'.")
    name: str = Field(description="Unique room name, made from the full session id.")
    url: str = Field(description="Daily: the room URL (private: it needs a meeting token). Local: the "
                                 "gateway URL that takes the SDP offer.")
    expires_at: datetime = Field(description="When the room stops admitting anyone.")


class RoomAccess(RoomPublic):
    """What a participant needs to join: the room and, for Daily, their own meeting token."""

    token: str | None = Field(
        description="Daily meeting token for this participant (owner for the bot); None for local "
                    "rooms, where the gateway authenticates the caller's own token."
    )
