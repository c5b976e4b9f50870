"""Queries of bot-orchestrator. Repositories never commit: the service owns the transaction."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot_orchestrator.models import BotAssignment, BotInstance, PoolScheduleRow

B, A = BotInstance, BotAssignment


async def try_lead(tx: AsyncSession) -> bool:
    """Whether this transaction may change the pool (one orchestrator at a time; held to its end)."""
    return bool((await tx.execute(select(func.pg_try_advisory_xact_lock(func.hashtextextended("voice-pool", 0)))))
                .scalar_one())


async def live_bots(tx: AsyncSession, *, lock: bool = False) -> list[BotInstance]:
    """Bots not ended, oldest first; ``lock``: for the reconcile that changes them (readers never wait)."""
    stmt = select(B).where(col(B.ended_at).is_(None)).order_by(col(B.started_at), col(B.id))
    return list((await tx.execute(stmt.with_for_update() if lock else stmt)).scalars())


async def bot(tx: AsyncSession, bot_id: str) -> BotInstance | None:
    return await tx.get(B, bot_id, with_for_update=True)


async def recent_cold_starts(tx: AsyncSession, limit: int = 10) -> list[BotInstance]:
    stmt = (select(B).where(col(B.warm_at).is_not(None), col(B.warm_at) > col(B.started_at))
            .order_by(col(B.started_at).desc()).limit(limit))
    return list((await tx.execute(stmt)).scalars())


async def add_assignment(tx: AsyncSession, session_id: UUID, attempt: int, org_id: UUID, at: datetime) -> None:
    await tx.execute(insert(A).values(session_id=session_id, attempt=attempt, org_id=org_id, dispatched_at=at)
                     .on_conflict_do_nothing())


async def current_assignment(tx: AsyncSession, session_id: UUID) -> BotAssignment | None:
    """The session's latest dispatch."""
    stmt = (select(A).where(col(A.session_id) == session_id).order_by(col(A.attempt).desc()).limit(1)
            .with_for_update())
    return (await tx.execute(stmt)).scalar_one_or_none()


async def end_assignments(tx: AsyncSession, session_id: UUID, at: datetime, outcome: str) -> None:
    await tx.execute(update(A).where(col(A.session_id) == session_id, col(A.ended_at).is_(None))
                     .values(ended_at=at, outcome=outcome))


def _waiting() -> list[ColumnElement[bool]]:
    return [col(A.picked_at).is_(None), col(A.ended_at).is_(None)]


async def waiting(tx: AsyncSession) -> tuple[int, datetime | None]:
    """Dispatched sessions no bot has taken, and the oldest dispatch among them."""
    count, oldest = (await tx.execute(select(func.count(), func.min(A.dispatched_at)).where(*_waiting()))).one()
    return int(count), oldest


async def ahead_of(tx: AsyncSession, dispatched_at: datetime) -> int:
    """Waiting sessions dispatched before this one."""
    stmt = select(func.count()).where(*_waiting(), col(A.dispatched_at) < dispatched_at)
    return int((await tx.execute(stmt)).scalar_one())


async def recent_pick_ups(tx: AsyncSession, limit: int = 100) -> list[float]:
    """Seconds from dispatch to a bot taking the session, newest first."""
    seconds = func.extract("epoch", col(A.picked_at) - col(A.dispatched_at))
    stmt = (select(seconds).where(col(A.picked_at).is_not(None))
            .order_by(col(A.dispatched_at).desc()).limit(limit))
    return [float(s) for s in (await tx.execute(stmt)).scalars()]


async def recent_interview_seconds(tx: AsyncSession, limit: int = 50) -> list[float]:
    """How long bots were busy with recent sessions (taken to ended)."""
    seconds = func.extract("epoch", col(A.ended_at) - col(A.picked_at))
    stmt = (select(seconds).where(col(A.picked_at).is_not(None), col(A.ended_at).is_not(None),
                                  col(A.outcome) != "released")
            .order_by(col(A.ended_at).desc()).limit(limit))
    return [float(s) for s in (await tx.execute(stmt)).scalars()]


async def schedule(tx: AsyncSession) -> PoolScheduleRow | None:
    return await tx.get(PoolScheduleRow, 1)
