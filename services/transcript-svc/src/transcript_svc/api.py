"""Internal API: a session's transcript segments, for service identities (the bot, to resume)."""

from uuid import UUID

from fastapi import APIRouter

from transcript_svc import service
from transcript_svc.deps import DbDep, OrgIdQuery
from voice_shared.api.transcripts import SessionSegments
from voice_shared.auth import ServiceDep

router = APIRouter(prefix="/internal/sessions", tags=["segments"])


@router.get("/{session_id}/segments")
async def session_segments(session_id: UUID, org_id: OrgIdQuery, _: ServiceDep, db: DbDep) -> SessionSegments:
    """The session's stored segments in sequence order and the next sequence to publish."""
    return await service.session_segments(db, org_id, session_id)
