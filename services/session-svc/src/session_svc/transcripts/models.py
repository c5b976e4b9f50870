"""The table of this sub-package (DDL in migrations/0006)."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime
from sqlmodel import Field, SQLModel

from session_svc.settings import SCHEMA


class SessionTranscript(SQLModel, table=True):
    """The newest revision of a session's transcript that transcript.completed announced."""

    __tablename__ = "voice_session_transcripts"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)  # the transcript's id
    session_id: UUID = Field(unique=True)
    org_id: UUID
    revision: int
    session_status: str
    segment_count: int
    word_count: int
    candidate_word_count: int
    duration_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))

