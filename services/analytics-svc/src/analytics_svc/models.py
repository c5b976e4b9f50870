"""Table models of analytics-svc (DDL lives in migrations/; these map the same tables)."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from analytics_svc.settings import SCHEMA


class AnalyticsRow(SQLModel, table=True):
    """One version of a session's analytics: a scored result or a recorded failure. Versions are never
    changed; the newest scored one is ``current``."""

    __tablename__ = "analytics"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID
    session_id: UUID
    version: int
    current: bool = False
    status: str  # scored | failed
    error: str | None = None
    trigger: str  # transcript | revision | rescore
    requested_by: str | None = None
    overall_score: float | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    provenance: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    transcript_revision: int
    config_id: UUID
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=sql("now()")),
    )


class ReviewRow(SQLModel, table=True):
    """A recruiter's review of one analytics version: scores and notes per criterion, maybe a decision."""

    __tablename__ = "reviews"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID
    session_id: UUID
    analytics_id: UUID
    reviewer: str
    criteria: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    decision: str | None = None
    note: str = ""
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=sql("now()")),
    )


class ErasedSession(SQLModel, table=True):
    """A session whose transcript was deleted: its analytics went, and a late event does not bring them back."""

    __tablename__ = "erased_sessions"
    __table_args__ = {"schema": SCHEMA}

    session_id: UUID = Field(primary_key=True)
    org_id: UUID
    erased_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=sql("now()"))
    )
