"""Queries of transcript-svc. Repositories never commit: the service owns the transaction."""

from typing import Any, Literal
from uuid import UUID

from sqlalchemy import delete, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from transcript_svc.models import ErasedSession, RecordingRow, RetentionPolicy
from transcript_svc.models import TranscriptRow as T
from transcript_svc.models import TranscriptSegmentRow as S
from transcript_svc.settings import SCHEMA

# stored: a new row; replaced: a final segment over an interim one; kept: the row there stays;
# foreign: the key is another org's (Row Level Security hides that row), which stays.
Outcome = Literal["stored", "replaced", "kept", "foreign"]


async def put_segment(tx: AsyncSession, row: dict[str, Any]) -> Outcome:
    """Insert a segment row; over an existing one of its sequence, only a final replaces an interim.

    Two statements rather than ``ON CONFLICT DO UPDATE``: that one raises on a conflicting row the
    tenant policy hides, where ``DO NOTHING`` and a plain ``UPDATE`` leave it alone.
    """
    inserted = await tx.execute(
        insert(S).values(**row).on_conflict_do_nothing(index_elements=["session_id", "sequence"])
        .returning(col(S.sequence))
    )
    if inserted.first() is not None:
        return "stored"
    same_row = (col(S.session_id) == row["session_id"]) & (col(S.sequence) == row["sequence"])
    if row["final"]:
        content = {k: v for k, v in row.items() if k not in ("org_id", "session_id", "sequence")}
        replaced = await tx.execute(
            update(S).where(same_row, ~col(S.final)).values(**content, stored_at=func.now())
            .returning(col(S.sequence))
        )
        if replaced.first() is not None:
            return "replaced"
    visible = (await tx.execute(select(exists().where(same_row)))).scalar_one()
    return "kept" if visible else "foreign"


async def segments_of(tx: AsyncSession, session_id: UUID) -> list[S]:
    """The session's segments visible in this transaction's org, in sequence order."""
    rows = await tx.execute(select(S).where(col(S.session_id) == session_id).order_by(col(S.sequence)))
    return list(rows.scalars())


async def lock_session(tx: AsyncSession, session_id: UUID) -> None:
    """Serialise the transaction with every other that writes the session's transcript (until it ends).

    A segment and the session's end can be handled at once (two queues, or two processes): without
    this, finalisation could read the segments just before a segment commits that saw no transcript
    yet, and that segment would be in neither the first revision nor a later one.
    """
    await tx.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                     {"key": f"transcript:{session_id}"})


async def transcript_of(tx: AsyncSession, session_id: UUID) -> T | None:
    rows = await tx.execute(select(T).where(col(T.session_id) == session_id))
    return rows.scalar_one_or_none()


async def transcript(tx: AsyncSession, transcript_id: UUID) -> T | None:
    return await tx.get(T, transcript_id)


async def save_transcript(tx: AsyncSession, row: T) -> None:
    tx.add(row)
    await tx.flush()


async def delete_session_record(tx: AsyncSession, session_id: UUID) -> int:
    """Delete the session's transcript and segments; returns how many segments went."""
    await tx.execute(delete(T).where(col(T.session_id) == session_id))
    gone = await tx.execute(delete(S).where(col(S.session_id) == session_id).returning(col(S.sequence)))
    return len(gone.all())


async def is_erased(tx: AsyncSession, session_id: UUID) -> bool:
    return await tx.get(ErasedSession, session_id) is not None


async def mark_erased(tx: AsyncSession, org_id: UUID, session_id: UUID, reason: str) -> None:
    await tx.execute(insert(ErasedSession).values(org_id=org_id, session_id=session_id, reason=reason)
                     .on_conflict_do_nothing(index_elements=["session_id"]))


async def put_retention(tx: AsyncSession, org_id: UUID, days: int) -> None:
    stmt = insert(RetentionPolicy).values(org_id=org_id, retention_days=days)
    await tx.execute(stmt.on_conflict_do_update(
        index_elements=["org_id"], set_={"retention_days": days, "updated_at": func.now()}))


async def sessions_past_retention(tx: AsyncSession, default_days: int, limit: int) -> list[tuple[UUID, UUID]]:
    """(org, session) of every record past its org's retention, across orgs (ids only)."""
    rows = await tx.execute(text(f"SELECT org_id, session_id FROM {SCHEMA}.sessions_past_retention(:d, :n)"),
                            {"d": default_days, "n": limit})
    return [(org, sid) for org, sid in rows.all()]


async def recording_of(tx: AsyncSession, session_id: UUID) -> RecordingRow | None:
    return await tx.get(RecordingRow, session_id)


async def recording_stored_at(tx: AsyncSession, key: str) -> RecordingRow | None:
    """The recording kept under ``key``, in this transaction's org."""
    rows = await tx.execute(select(RecordingRow).where(col(RecordingRow.object_key) == key))
    return rows.scalar_one_or_none()


async def put_recording(tx: AsyncSession, row: RecordingRow) -> None:
    await tx.merge(row)
    await tx.flush()


async def delete_recording(tx: AsyncSession, session_id: UUID) -> None:
    await tx.execute(delete(RecordingRow).where(col(RecordingRow.session_id) == session_id))
