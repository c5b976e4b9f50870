"""The embedded room: no external service; peers signal through the gateway to the session's bot.

The "room" is the gateway's offer route for the session. The bot binds the session's offers on
the bus when it takes the session (``voice_shared.bus.serve_negotiation``) and lets go of them
when it finishes, so there is nothing to create or delete here beyond the record.
"""

from datetime import datetime

from session_svc.rooms.ports import ProvisionedRoom, RoomSpec


class LocalRooms:
    name = "local"

    def __init__(self, public_url: str) -> None:
        self._public_url = public_url.rstrip("/")

    async def create_room(self, spec: RoomSpec) -> ProvisionedRoom:
        url = f"{self._public_url}/api/voice/sessions/{spec.session_id}/webrtc/offer?orgId={spec.org_id}"
        return ProvisionedRoom(name=spec.name, url=url)

    async def meeting_token(
        self, room: str, *, owner: bool, user_name: str, expires_at: datetime, start_recording: bool = False
    ) -> str | None:
        return None  # the gateway admits callers by their own token (join token or user token)

    async def delete_room(self, name: str) -> None:
        return None
