"""Table models of bot-orchestrator (DDL lives in migrations/; these map the same tables)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from bot_orchestrator.settings import SCHEMA


def _when(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class BotInstance(SQLModel, table=True):
    """A bot as the orchestrator knows it: from its start (local backend) or its first heartbeat, to its end."""

    __tablename__ = "bot_instances"
    __table_args__ = {"schema": SCHEMA}

    id: str = Field(primary_key=True)
    backend: str
    state: str  # starting | idle | busy | draining | lost | gone
    session_id: UUID | None = None
    org_id: UUID | None = None
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    warm_at: datetime | None = _when()  # its first idle heartbeat: the cold start took warm_at - started_at
    last_seen_at: datetime | None = _when()
    interviews_served: int = 0
    rss_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    ended_at: datetime | None = _when()
    end_reason: str | None = None


class BotAssignment(SQLModel, table=True):
    """One dispatch of a session (its bot job) and the bot that took it."""

    __tablename__ = "bot_assignments"
    __table_args__ = {"schema": SCHEMA}

    session_id: UUID = Field(primary_key=True)
    attempt: int = Field(primary_key=True)
    org_id: UUID
    dispatched_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    picked_at: datetime | None = _when()
    bot_id: str | None = None
    joined_at: datetime | None = _when()
    ended_at: datetime | None = _when()
    outcome: str | None = None  # joined | released | ended: <status>


class PoolScheduleRow(SQLModel, table=True):
    __tablename__ = "pool_schedule"
    __table_args__ = {"schema": SCHEMA}

    id: int = Field(default=1, primary_key=True)
    schedule: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    updated_by: str
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
