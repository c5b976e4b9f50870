"""Queries of transcript-svc. Repositories never commit: the service owns the transaction."""

from typing import Any, Literal
from uuid import UUID

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from transcript_svc.models import TranscriptSegmentRow as S

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
