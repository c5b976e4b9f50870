"""Queries of analytics-svc. Repositories never commit: the service owns the transaction."""

from uuid import UUID

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from analytics_svc.models import AnalyticsRow as A
from analytics_svc.models import ErasedSession, ReviewRow


async def lock_session(tx: AsyncSession, session_id: UUID) -> None:
    """Serialise the writers of one session's analytics (scoring, rescoring, forgetting) until commit."""
    await tx.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                     {"key": f"analytics:{session_id}"})


async def current(tx: AsyncSession, session_id: UUID) -> A | None:
    rows = await tx.execute(select(A).where(col(A.session_id) == session_id, col(A.current)))
    return rows.scalar_one_or_none()


async def versions(tx: AsyncSession, session_id: UUID) -> list[A]:
    rows = await tx.execute(select(A).where(col(A.session_id) == session_id).order_by(col(A.version).desc()))
    return list(rows.scalars())


async def scored_revision(tx: AsyncSession, session_id: UUID) -> int:
    """The highest transcript revision any version of the session's analytics was made from (0: none)."""
    rows = await tx.execute(select(func.max(A.transcript_revision)).where(col(A.session_id) == session_id))
    return rows.scalar_one() or 0


async def add_version(tx: AsyncSession, row: A) -> None:
    """Add ``row`` as the session's next version; a scored one becomes the current one."""
    top = await tx.execute(select(func.max(A.version)).where(col(A.session_id) == row.session_id))
    row.version = (top.scalar_one() or 0) + 1
    if row.status == "scored":
        await tx.execute(update(A).where(col(A.session_id) == row.session_id, col(A.current)).values(current=False))
        await tx.flush()
        row.current = True
    tx.add(row)
    await tx.flush()


async def reviews(tx: AsyncSession, session_id: UUID) -> list[ReviewRow]:
    rows = await tx.execute(select(ReviewRow).where(col(ReviewRow.session_id) == session_id)
                            .order_by(col(ReviewRow.created_at)))
    return list(rows.scalars())


async def add_review(tx: AsyncSession, row: ReviewRow) -> None:
    tx.add(row)
    await tx.flush()


async def reviewed_current(tx: AsyncSession, config_id: UUID | None) -> list[tuple[A, ReviewRow]]:
    """Every review with the analytics version it reviewed, of the org's current analytics (a config's)."""
    query = select(A, ReviewRow).join(ReviewRow, col(ReviewRow.analytics_id) == A.id)
    if config_id is not None:
        query = query.where(col(A.config_id) == config_id)
    return [(a, r) for a, r in (await tx.execute(query)).all()]


async def forget(tx: AsyncSession, org_id: UUID, session_id: UUID) -> int:
    """Delete every version and review of the session and remember it as erased; how many versions went."""
    gone = await tx.execute(delete(A).where(col(A.session_id) == session_id).returning(col(A.id)))
    await tx.execute(insert(ErasedSession).values(org_id=org_id, session_id=session_id)
                     .on_conflict_do_nothing(index_elements=["session_id"]))
    return len(gone.all())


async def is_erased(tx: AsyncSession, session_id: UUID) -> bool:
    return await tx.get(ErasedSession, session_id) is not None
