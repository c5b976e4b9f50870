"""Routes: the list of transcripts (the gateway's /api/voice/transcripts) and, for transcript-svc,
the caller's access to a session."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from session_svc.transcripts import service
from voice_shared.api.common import Page
from voice_shared.api.transcripts import SessionAccess, TranscriptListItem
from voice_shared.auth import PrincipalDep
from voice_shared.deps import Cursor, DbDep, Limit, OrgIdQuery

router = APIRouter()


@router.get("/api/voice/transcripts")
async def list_transcripts(
    org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep,
    session_id: Annotated[UUID | None, Query(alias="sessionId")] = None,
    config_id: Annotated[UUID | None, Query(alias="configId")] = None,
    candidate: Annotated[str | None, Query(max_length=200)] = None,
    created_from: Annotated[AwareDatetime | None, Query(alias="createdFrom")] = None,
    created_to: Annotated[AwareDatetime | None, Query(alias="createdTo")] = None,
    has_analytics: Annotated[bool | None, Query(alias="hasAnalytics")] = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[TranscriptListItem]:
    filters = service.TranscriptFilters(session_id, config_id, candidate, created_from, created_to, has_analytics)
    return await service.list_transcripts(db, principal, org_id, filters, limit, cursor)


@router.get("/internal/sessions/{session_id}/access")
async def session_access(session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep) -> SessionAccess:
    """The caller's access to the session (404 if they cannot see it): transcript-svc asks it with
    the caller's own token before it shows a transcript."""
    return await service.session_access(db, principal, org_id, session_id)
