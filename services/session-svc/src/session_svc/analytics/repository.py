"""Queries of the analytics sub-package. Repositories never commit: the service owns the transaction."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Row, and_, case, delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from session_svc.analytics.models import SessionAnalytics as A
from session_svc.models import VoiceSession
from voice_shared.api.sessions import DecisionCount, ScoreBucket

ANALYTICS_COLUMNS = ("analytics_id", "analytics_version", "overall_score", "scorer", "scored_at")
# Score buckets of the stats: [0, 20), [20, 40), ... and [80, 100], so a 100 is in the last.
SCORE_BUCKETS: tuple[ScoreBucket, ...] = ("0-20", "20-40", "40-60", "60-80", "80-100")
DECISION_COUNTS: tuple[DecisionCount, ...] = ("advance", "hold", "reject", "none")  # 'none': no decision yet


async def put_analytics(tx: AsyncSession, values: dict[str, Any]) -> bool:
    """Keep the session's highest analytics version; False if one as high is already here.

    Versions may arrive out of order (a rescoring's event overtakes the first one's): the version
    decides, not when each arrived or was scored. The review columns are left as they are.
    """
    stmt = insert(A).values(**values)
    upsert = stmt.on_conflict_do_update(
        index_elements=["session_id"],
        set_={k: stmt.excluded[k] for k in ANALYTICS_COLUMNS},
        where=func.coalesce(col(A.analytics_version), 0) < stmt.excluded.analytics_version,
    ).returning(col(A.session_id))
    return (await tx.execute(upsert)).first() is not None


async def put_review(
    tx: AsyncSession, org_id: UUID, session_id: UUID, decision: str | None, reviewer: str, reviewed_at: datetime,
) -> None:
    """Take in one review: it is the newest if none later is here; its decision counts if it made one
    and no later decision is here. Reviews may arrive out of order, and before their analytics."""
    stmt = insert(A).values(
        session_id=session_id, org_id=org_id, reviewer=reviewer, reviewed_at=reviewed_at,
        decision=decision, decided_at=reviewed_at if decision is not None else None,
    )
    new = stmt.excluded
    newer_review = or_(col(A.reviewed_at).is_(None), col(A.reviewed_at) < new.reviewed_at)
    newer_decision = and_(new.decision.is_not(None),
                          or_(col(A.decided_at).is_(None), col(A.decided_at) < new.decided_at))
    await tx.execute(stmt.on_conflict_do_update(
        index_elements=["session_id"],
        set_={
            "reviewer": case((newer_review, new.reviewer), else_=col(A.reviewer)),
            "reviewed_at": case((newer_review, new.reviewed_at), else_=col(A.reviewed_at)),
            "decision": case((newer_decision, new.decision), else_=col(A.decision)),
            "decided_at": case((newer_decision, new.decided_at), else_=col(A.decided_at)),
        },
        where=or_(newer_review, newer_decision),
    ))


async def forget(tx: AsyncSession, session_id: UUID) -> None:
    """The session's transcript is gone, and with it what was scored from it and its reviews."""
    await tx.execute(delete(A).where(col(A.session_id) == session_id))


def current() -> ColumnElement[bool]:
    """Rows that hold analytics (a row may hold only a review so far)."""
    return col(A.analytics_id).is_not(None)


def scored(session_id: Any) -> ColumnElement[bool]:
    """Whether the session ``session_id`` (a column) has current analytics."""
    return exists().where(col(A.session_id) == session_id, current())


async def scores_by_config(tx: AsyncSession, *where: Any) -> list[Row[Any]]:
    """Per config of the sessions with current analytics that match ``where``: (config_id, count,
    average score, a count per SCORE_BUCKETS, a count per DECISION_COUNTS)."""
    score, decision = col(A.overall_score), col(A.decision)
    edges = [(20.0 * i, 20.0 * (i + 1)) for i in range(len(SCORE_BUCKETS))]
    buckets = [func.count().filter(score >= low, score < high if high < 100 else score <= high)
               for low, high in edges]
    decisions = [func.count().filter(decision == d if d != "none" else decision.is_(None)) for d in DECISION_COUNTS]
    stmt = (
        select(col(VoiceSession.config_id), func.count(), func.avg(score), *buckets, *decisions)
        .select_from(A).join(VoiceSession, col(VoiceSession.id) == A.session_id)
        .where(current(), *where)
        .group_by(col(VoiceSession.config_id))
        .order_by(col(VoiceSession.config_id))
    )
    return list((await tx.execute(stmt)).all())
