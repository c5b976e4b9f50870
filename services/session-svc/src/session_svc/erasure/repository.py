"""Queries of the erasure sub-package. Repositories never commit: the service owns the transaction."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from session_svc.models import VoiceSession


async def candidate_sessions(tx: AsyncSession, email: str) -> list[VoiceSession]:
    """Every session of this org with the candidate's email (any case; deleted ones too), locked."""
    rows = await tx.execute(
        select(VoiceSession).where(func.lower(col(VoiceSession.candidate_email)) == email.lower()).with_for_update()
    )
    return list(rows.scalars())
