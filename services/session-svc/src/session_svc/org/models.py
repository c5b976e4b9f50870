"""The table of this sub-package (DDL in migrations/0007)."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from session_svc.settings import SCHEMA


class OrgSettings(SQLModel, table=True):
    __tablename__ = "voice_org_settings"
    __table_args__ = {"schema": SCHEMA}

    org_id: UUID = Field(primary_key=True)
    retention_days: int
    max_concurrent_interviews: int | None = None  # None: the platform's default
    updated_by: str
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
