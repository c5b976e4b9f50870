"""Table models of transcript-svc (DDL lives in migrations/; these map the same tables)."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime
from sqlalchemy import text as sql
from sqlmodel import Field, SQLModel

from transcript_svc.settings import SCHEMA


class TranscriptSegmentRow(SQLModel, table=True):
    """One segment of a session's transcript; a final segment replaces an interim one of its sequence."""

    __tablename__ = "transcript_segments"
    __table_args__ = {"schema": SCHEMA}

    org_id: UUID
    session_id: UUID = Field(primary_key=True)
    sequence: int = Field(primary_key=True)
    speaker: str
    text: str
    start_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    question_id: str | None = None
    follow_up_index: int | None = None
    kind: str | None = None
    final: bool
    event_id: UUID  # the event whose content the row holds
    stored_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=sql("now()"))
    )
