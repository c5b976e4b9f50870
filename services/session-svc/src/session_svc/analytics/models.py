"""The table of this sub-package (DDL in migrations/0008 and 0009) and the list's item."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from session_svc.settings import SCHEMA


class SessionAnalytics(SQLModel, table=True):
    """A session's current analytics (analytics.completed; the highest version wins) and its reviews'
    outcome (analytics.reviewed).

    The two arrive on separate queues, so a review may come first: until its analytics do, the
    analytics columns are all null (the row is not listed). Reviews are ordered by when they
    happened: ``reviewer``/``reviewed_at`` are the newest review's, ``decision``/``decided_at`` the
    newest review's that made a decision (a review without one leaves the decision as it was).
    """

    __tablename__ = "voice_session_analytics"
    __table_args__ = {"schema": SCHEMA}

    session_id: UUID = Field(primary_key=True)
    org_id: UUID
    analytics_id: UUID | None = None
    analytics_version: int | None = None
    overall_score: float | None = None
    scorer: str | None = None
    scored_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    decision: str | None = None
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    reviewer: str | None = None
    reviewed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
