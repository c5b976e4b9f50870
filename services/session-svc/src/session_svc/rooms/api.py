"""Internal: the serving bot's way into the session's room (its owner meeting token for Daily)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter

from session_svc.rooms.service import Rooms
from voice_shared.api.rooms import RoomAccess
from voice_shared.auth import PrincipalDep, require_service
from voice_shared.deps import OrgIdQuery, from_state
from voice_shared.errors import Forbidden, NotFound

router = APIRouter(prefix="/internal/sessions", tags=["rooms"])


RoomsDep = Annotated[Rooms, from_state("rooms")]


@router.get("/{session_id}/room")
async def bot_room(session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, rooms: RoomsDep) -> RoomAccess:
    """The live room and the bot's token: only for the bot's service identity."""
    require_service(principal)
    if principal.service != "bot":
        raise Forbidden("Only the bot joins a session's room through this endpoint.", code="bot_only")
    access = await rooms.access(org_id, session_id, "bot")
    if access is None:
        raise NotFound("The session has no live room (not started, or already over).", code="room_not_found")
    return access
