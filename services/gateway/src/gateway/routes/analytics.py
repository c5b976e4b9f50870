"""Analytics: each session's score against its rubric with evidence and provenance, its versions,
rescoring, reviews and reviewer agreement (analytics-svc, which asks session-svc who may see them)."""

from typing import Annotated
from uuid import UUID

from fastapi import Query, Request, Response, status
from pydantic import AwareDatetime

from gateway.routes.common import PublicRouter
from gateway.upstream import forward
from voice_shared.api.analytics import (
    Agreement,
    AnalyticsListItem,
    AnalyticsPublic,
    DecisionFilter,
    RescoreRequest,
    ReviewCreate,
    ReviewPublic,
    Scorer,
)
from voice_shared.api.common import Page
from voice_shared.deps import Cursor, Limit, OrgIdQuery

router = PublicRouter("analytics")


@router.get("/analytics", response_model=Page[AnalyticsListItem])
async def list_analytics(
    request: Request,
    org_id: OrgIdQuery,
    config_id: Annotated[UUID | None, Query(alias="configId")] = None,
    score_min: Annotated[float | None, Query(alias="scoreMin", ge=0, le=100)] = None,
    score_max: Annotated[float | None, Query(alias="scoreMax", ge=0, le=100)] = None,
    decision: Annotated[DecisionFilter | None, Query(description="'none': no decision yet.")] = None,
    scorer: Scorer | None = None,
    created_from: Annotated[AwareDatetime | None, Query(alias="createdFrom", description="Scored at or after.")] = None,
    created_to: Annotated[AwareDatetime | None, Query(alias="createdTo", description="Scored before.")] = None,
    candidate: Annotated[str | None, Query(max_length=200, description="In the name or email.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The sessions with current analytics whose analytics the caller may see ('view_analytics' access or
    more), newest scored first, filtered server-side."""
    return await forward(request)


@router.get("/analytics/agreement", response_model=Agreement)
async def agreement(
    request: Request, org_id: OrgIdQuery, config_id: Annotated[UUID | None, Query(alias="configId")] = None,
) -> Response:
    """How far reviewers' criterion scores are from the AI's (mean absolute difference on 0-100, per
    criterion), over the org's reviewed sessions or one config's (org admins)."""
    return await forward(request, to="analytics-svc")


@router.get("/analytics/{session_id}", response_model=AnalyticsPublic)
async def get_analytics(request: Request, session_id: UUID, org_id: OrgIdQuery) -> Response:
    """The session's current analytics: overall and per-criterion scores with evidence quotes, strengths,
    weaknesses, key moments, question coverage, how it was made, and its reviews ('view_analytics' access)."""
    return await forward(request, to="analytics-svc")


@router.get("/analytics/{session_id}/versions", response_model=list[AnalyticsPublic])
async def analytics_versions(request: Request, session_id: UUID, org_id: OrgIdQuery) -> Response:
    """Every version, newest first: each scoring and rescoring, recorded failures included."""
    return await forward(request, to="analytics-svc")


@router.post("/analytics/{session_id}/rescore", response_model=AnalyticsPublic, status_code=status.HTTP_201_CREATED)
async def rescore(
    request: Request, session_id: UUID, org_id: OrgIdQuery, body: RescoreRequest | None = None
) -> Response:
    """Score the session again, with the config's scorer or another, as a new version (manage access)."""
    return await forward(request, body, to="analytics-svc")


@router.get("/analytics/{session_id}/reviews", response_model=list[ReviewPublic])
async def reviews(request: Request, session_id: UUID, org_id: OrgIdQuery) -> Response:
    return await forward(request, to="analytics-svc")


@router.post("/analytics/{session_id}/reviews", response_model=ReviewPublic, status_code=status.HTTP_201_CREATED)
async def add_review(request: Request, session_id: UUID, org_id: OrgIdQuery, body: ReviewCreate) -> Response:
    """A reviewer's score and note per criterion and a decision (advance, hold, reject); the AI's
    scores stay beside it. Attributed to the token's subject and timestamped."""
    return await forward(request, body, to="analytics-svc")
