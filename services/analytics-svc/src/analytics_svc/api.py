"""analytics-svc's HTTP API (the gateway's /api/voice/analytics/{sessionId}...; the list is session-svc's)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from analytics_svc import service
from voice_shared.api.analytics import Agreement, AnalyticsPublic, RescoreRequest, ReviewCreate, ReviewPublic
from voice_shared.deps import DbDep, OrgIdQuery, from_state
from voice_shared.session_access import CallerDep, SessionAccessDep

router = APIRouter(prefix="/api/voice/analytics", tags=["analytics"])


SourcesDep = Annotated[service.Sources, from_state("sources")]


@router.get("/agreement")
async def agreement(
    org_id: OrgIdQuery, caller: CallerDep, db: DbDep,
    config_id: Annotated[UUID | None, Query(alias="configId")] = None,
) -> Agreement:
    return await service.agreement(db, caller, org_id, config_id)


@router.get("/{session_id}")
async def current(
    session_id: UUID, org_id: OrgIdQuery, caller: CallerDep, db: DbDep, access: SessionAccessDep
) -> AnalyticsPublic:
    return await service.current(db, access, caller, org_id, session_id)


@router.get("/{session_id}/versions")
async def versions(
    session_id: UUID, org_id: OrgIdQuery, caller: CallerDep, db: DbDep, access: SessionAccessDep
) -> list[AnalyticsPublic]:
    return await service.versions(db, access, caller, org_id, session_id)


@router.post("/{session_id}/rescore", status_code=status.HTTP_201_CREATED)
async def rescore(
    session_id: UUID, org_id: OrgIdQuery, caller: CallerDep, db: DbDep, access: SessionAccessDep, sources: SourcesDep,
    body: RescoreRequest | None = None,
) -> AnalyticsPublic:
    return await service.rescore(db, sources, access, caller, org_id, session_id, body.scorer if body else None)


@router.get("/{session_id}/reviews")
async def reviews(
    session_id: UUID, org_id: OrgIdQuery, caller: CallerDep, db: DbDep, access: SessionAccessDep
) -> list[ReviewPublic]:
    return await service.reviews(db, access, caller, org_id, session_id)


@router.post("/{session_id}/reviews", status_code=status.HTTP_201_CREATED)
async def add_review(
    session_id: UUID, org_id: OrgIdQuery, body: ReviewCreate, caller: CallerDep, db: DbDep, access: SessionAccessDep
) -> ReviewPublic:
    return await service.add_review(db, access, caller, org_id, session_id, body)
