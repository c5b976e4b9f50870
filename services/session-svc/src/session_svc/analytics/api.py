"""Routes: the list of sessions' current analytics (the gateway's GET /api/voice/analytics)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from session_svc.analytics import service
from voice_shared.api.analytics import AnalyticsListItem, DecisionFilter, Scorer
from voice_shared.api.common import Page
from voice_shared.auth import PrincipalDep
from voice_shared.deps import Cursor, DbDep, Limit, OrgIdQuery

router = APIRouter()

@router.get("/api/voice/analytics")
async def list_analytics(
    org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep,
    config_id: Annotated[UUID | None, Query(alias="configId")] = None,
    score_min: Annotated[float | None, Query(alias="scoreMin", ge=0, le=100)] = None,
    score_max: Annotated[float | None, Query(alias="scoreMax", ge=0, le=100)] = None,
    decision: Annotated[DecisionFilter | None, Query(description="'none': no decision yet.")] = None,
    scorer: Scorer | None = None,
    created_from: Annotated[AwareDatetime | None, Query(alias="createdFrom", description="Scored at or after.")] = None,
    created_to: Annotated[AwareDatetime | None, Query(alias="createdTo", description="Scored before.")] = None,
    candidate: Annotated[str | None, Query(max_length=200, description="In the name or email.")] = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[AnalyticsListItem]:
    filters = service.AnalyticsFilters(config_id, score_min, score_max, decision, scorer, created_from, created_to,
                                       candidate)
    return await service.list_analytics(db, principal, org_id, filters, limit, cursor)
