"""Analytics as session-svc serves them: each session's current analytics (from analytics.completed),
its reviewers' decision (from analytics.reviewed), and the list of them."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func, select
from sqlmodel import col

from session_svc import repository as repo
from session_svc.analytics import repository
from session_svc.analytics.models import SessionAnalytics
from session_svc.models import VoiceSession, VoiceShare
from session_svc.permissions import access, require_member
from session_svc.service import SessionFilters
from session_svc.settings import SCHEMA
from voice_shared.api.access import ShareLevel, allows
from voice_shared.api.analytics import AnalyticsListItem, DecisionFilter, Scorer
from voice_shared.api.common import Page
from voice_shared.auth import Principal
from voice_shared.contracts import AnalyticsCompleted, AnalyticsReviewed
from voice_shared.db import SessionMaker, transaction
from voice_shared.errors import ValidationFailed
from voice_shared.outbox import claim_inbox


async def record_analytics(
    db: SessionMaker, org_id: UUID, event: AnalyticsCompleted, scored_at: datetime, consumer: str, event_id: UUID
) -> None:
    async with transaction(db, org_id) as tx:
        if await claim_inbox(tx, SCHEMA, consumer, event_id):
            await repository.put_analytics(tx, {
                "session_id": event.session_id, "org_id": org_id, "analytics_id": event.analytics_id,
                "analytics_version": event.analytics_version, "overall_score": event.overall_score,
                "scorer": event.scorer, "scored_at": scored_at,
            })


async def record_review(
    db: SessionMaker, org_id: UUID, event: AnalyticsReviewed, reviewed_at: datetime, consumer: str, event_id: UUID
) -> None:
    async with transaction(db, org_id) as tx:
        if await claim_inbox(tx, SCHEMA, consumer, event_id):
            await repository.put_review(tx, org_id, event.session_id, event.decision, event.reviewer, reviewed_at)


@dataclass(frozen=True)
class AnalyticsFilters:
    config_id: UUID | None = None
    score_min: float | None = None
    score_max: float | None = None
    decision: DecisionFilter | None = None
    scorer: Scorer | None = None
    scored_from: datetime | None = None
    scored_to: datetime | None = None
    candidate: str | None = None

    def check(self) -> None:
        if self.score_min is not None and self.score_max is not None and self.score_min > self.score_max:
            message = f"scoreMin ({self.score_min:g}) must not be greater than scoreMax ({self.score_max:g})."
            raise ValidationFailed(message, code="invalid_score_range", details=[
                {"loc": ["query", "scoreMin"], "msg": message, "type": "score_range"}])

    def where(self) -> list[ColumnElement[bool]]:
        a = SessionAnalytics
        where = SessionFilters(config_id=self.config_id, candidate=self.candidate).where()
        if self.score_min is not None:
            where.append(col(a.overall_score) >= self.score_min)
        if self.score_max is not None:
            where.append(col(a.overall_score) <= self.score_max)
        if self.decision == "none":
            where.append(col(a.decision).is_(None))
        elif self.decision is not None:
            where.append(col(a.decision) == self.decision)
        if self.scorer is not None:
            where.append(col(a.scorer) == self.scorer)
        if self.scored_from is not None:
            where.append(col(a.scored_at) >= self.scored_from)
        if self.scored_to is not None:
            where.append(col(a.scored_at) < self.scored_to)
        return where


async def list_analytics(
    db: SessionMaker, principal: Principal, org_id: UUID, filters: AnalyticsFilters, limit: int, cursor: str | None,
) -> Page[AnalyticsListItem]:
    """The current analytics of the sessions whose analytics the caller may see, newest scored first."""
    require_member(principal, org_id)
    filters.check()
    a = SessionAnalytics
    where = [
        repository.current(), repo.live_sessions(), repo.visible_to(principal, org_id, "view_analytics"),
        *filters.where(),
    ]
    joined = (
        select(a, VoiceSession, col(VoiceShare.level))
        .join(VoiceSession, col(VoiceSession.id) == a.session_id)
        .outerjoin(VoiceShare, and_(col(VoiceShare.session_id) == VoiceSession.id,
                                    col(VoiceShare.user_id) == principal.sub))
        .where(*where)
    )
    counted = select(func.count()).select_from(a).join(VoiceSession, col(VoiceSession.id) == a.session_id)
    keys = (col(a.scored_at), col(a.session_id))
    async with transaction(db, org_id, snapshot=True) as tx:
        rows = (await tx.execute(repo.page_after(joined, a, cursor, limit, keys=keys))).all()
        total = (await tx.execute(counted.where(*where))).scalar_one()
    # Listed rows are scored ones (scored_at set): the cursor is after the last one's (scored_at, session).
    page, next_cursor = repo.page_of(rows, limit, lambda r: (r[0].scored_at, r[0].session_id))
    items = []
    for analytics, session, level in page:
        granted = access(principal, repo.facts(session, ShareLevel(level) if level else None))
        if allows(granted, "view_analytics"):  # visible_to and access agree; this guards the twin
            items.append(AnalyticsListItem.model_validate({
                **analytics.model_dump(), "config_id": session.config_id, "config_version": session.config_version,
                "candidate_name": session.candidate_name, "candidate_email": session.candidate_email,
                "session_status": session.status, "access": granted,
            }))
    return Page[AnalyticsListItem](items=items, total=total, next_cursor=next_cursor)
