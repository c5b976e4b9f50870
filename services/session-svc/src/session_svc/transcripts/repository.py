"""Queries of the transcripts sub-package. Repositories never commit: the service owns the transaction."""

from typing import Any
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from session_svc.transcripts.models import SessionTranscript as T


async def put_revision(tx: AsyncSession, values: dict[str, Any]) -> bool:
    """Keep the newest revision of the session's transcript; False if a newer one is already here.

    Revisions may arrive out of order (several relays publish side by side): the highest wins.
    """
    stmt = insert(T).values(**values)
    upsert = stmt.on_conflict_do_update(
        index_elements=["session_id"],
        set_={k: stmt.excluded[k] for k in values if k not in ("id", "session_id", "org_id")},
        where=col(T.revision) < stmt.excluded.revision,
    ).returning(col(T.id))
    return (await tx.execute(upsert)).first() is not None


async def forget(tx: AsyncSession, session_id: UUID) -> None:
    await tx.execute(delete(T).where(col(T.session_id) == session_id))

