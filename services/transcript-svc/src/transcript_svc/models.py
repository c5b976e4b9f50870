"""Table models of transcript-svc (DDL lives in migrations/; these map the same tables)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import JSONB
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


class TranscriptRow(SQLModel, table=True):
    """A session's final transcript: its facts and where its renderings are archived.

    The segments themselves stay in ``transcript_segments``; ``revision`` goes up each time late
    segments are merged, and the row and the segments change in the same transaction.
    """

    __tablename__ = "transcripts"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID
    session_id: UUID = Field(unique=True)
    revision: int
    session_status: str
    end_reason: str
    segment_count: int
    word_count: int
    speakers: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    duration_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    text: str
    object_keys: dict[str, str] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=sql("now()"))
    )
    updated_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=sql("now()"))
    )


class RetentionPolicy(SQLModel, table=True):
    """How long an org keeps its transcripts (from session-svc's org.settings_updated)."""

    __tablename__ = "retention_policies"
    __table_args__ = {"schema": SCHEMA}

    org_id: UUID = Field(primary_key=True)
    retention_days: int
    updated_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=sql("now()"))
    )


class ErasedSession(SQLModel, table=True):
    """A session whose record was deleted: what arrives for it later is dropped. Ids only."""

    __tablename__ = "erased_sessions"
    __table_args__ = {"schema": SCHEMA}

    session_id: UUID = Field(primary_key=True)
    org_id: UUID
    reason: str
    erased_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=sql("now()"))
    )


class RecordingRow(SQLModel, table=True):
    """A session's audio recording in the object store (the bot made it; this service serves it)."""

    __tablename__ = "recordings"
    __table_args__ = {"schema": SCHEMA}

    session_id: UUID = Field(primary_key=True)
    org_id: UUID
    object_key: str
    content_type: str
    channels: str
    duration_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=sql("now()"))
    )
