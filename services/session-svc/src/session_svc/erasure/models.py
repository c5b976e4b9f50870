"""The table of this sub-package (DDL in migrations/0007)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from session_svc.settings import SCHEMA


class Erasure(SQLModel, table=True):
    """An erasure's receipt: who, when, and counts per service (no email, no name)."""

    __tablename__ = "voice_erasures"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID
    requested_by: str
    requested_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    session_count: int
    removed: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
