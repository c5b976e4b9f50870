"""The rooms port: what session-svc needs from a room provider, and the errors it may give."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

from voice_shared.errors import AppError

Recording = Literal["off", "cloud"]


@dataclass(frozen=True)
class RoomSpec:
    """The room a session needs: private, expiring, sized for the bot, the candidate and an observer."""

    org_id: UUID
    session_id: UUID
    name: str
    expires_at: datetime
    max_participants: int
    recording: Recording


@dataclass(frozen=True)
class ProvisionedRoom:
    name: str
    url: str


class RoomProvider(Protocol):
    """A place for a session's participants; every call is safe to repeat."""

    name: str  # "local" | "daily", stored with the room so the right adapter deletes it

    async def create_room(self, spec: RoomSpec) -> ProvisionedRoom:
        """Create the room named ``spec.name`` (an existing room of that name is returned)."""
        ...

    async def meeting_token(
        self, room: str, *, owner: bool, user_name: str, expires_at: datetime, start_recording: bool = False
    ) -> str | None:
        """A token that admits one participant to ``room`` until ``expires_at`` (None: none needed)."""
        ...

    async def delete_room(self, name: str) -> None:
        """Delete the room; one that does not exist counts as deleted."""
        ...


def room_name(session_id: UUID, attempt: int) -> str:
    """The full session id (never a prefix of it, which could collide) and the start attempt."""
    return f"{session_id}-{attempt}"


class RoomProviderError(AppError):
    """A room provider call failed; the message says which provider, what and why."""

    status, code = 502, "room_provider_error"


class RoomProviderRefused(RoomProviderError):
    """The provider answered with an error that retrying will not fix (4xx other than 429)."""

    status, code = 502, "room_provider_refused"


class RoomProviderUnavailable(RoomProviderError):
    """The provider kept failing (429, 5xx or no answer) until the retries ran out."""

    status, code = 503, "room_provider_unavailable"
