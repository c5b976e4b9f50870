"""Table models of session-svc (DDL lives in migrations/; these map the same tables)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, Computed
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlmodel import Field, SQLModel

from session_svc.settings import SCHEMA


class VoiceConfig(SQLModel, table=True):
    __tablename__ = "voice_configs"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID
    name: str
    description: str = ""
    active: bool = True
    version: int = 1
    definition: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_by: str
    created_at: datetime
    updated_at: datetime


class VoiceConfigVersion(SQLModel, table=True):
    __tablename__ = "voice_config_versions"
    __table_args__ = {"schema": SCHEMA}

    config_id: UUID = Field(primary_key=True)
    version: int = Field(primary_key=True)
    org_id: UUID
    definition: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime


class VoiceSession(SQLModel, table=True):
    __tablename__ = "voice_sessions"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID
    workspace_id: UUID | None = None
    config_id: UUID
    config_version: int
    interview_type: str
    candidate_name: str
    candidate_email: str
    status: str = "pending"
    status_reason: str | None = None
    metadata_: dict[str, Any] = Field(sa_column=Column("metadata", JSONB, nullable=False))
    created_by: str
    assignee_id: str | None = None
    shared_with_workspace: bool = False
    created_at: datetime
    updated_at: datetime
    ready_at: datetime | None = None
    active_at: datetime | None = None
    ended_at: datetime | None = None
    deleted_at: datetime | None = None
    consent_at: datetime | None = None  # when the candidate agreed on the join page
    consent_text_version: str | None = None  # which wording of the consent they agreed to
    join_deadline: datetime | None = None  # until when the candidate may press Start (set by start)
    dispatched_at: datetime | None = None  # the bot job went out; cleared when a bot let the session go
    dispatch_count: int = 0


class VoiceShare(SQLModel, table=True):
    __tablename__ = "voice_shares"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID
    session_id: UUID
    user_id: str
    level: str
    created_by: str
    created_at: datetime


class KnowledgeBase(SQLModel, table=True):
    __tablename__ = "knowledge_bases"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID
    name: str
    description: str = ""
    created_by: str
    created_at: datetime


class KbDocument(SQLModel, table=True):
    __tablename__ = "kb_documents"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID
    kb_id: UUID
    filename: str
    content_type: str
    size_bytes: int
    chunk_count: int
    created_at: datetime


class KbChunk(SQLModel, table=True):
    __tablename__ = "kb_chunks"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID
    kb_id: UUID
    document_id: UUID
    ordinal: int
    text: str
    # Computed by Postgres from text; never written by the application.
    tsv: Any = Field(
        default=None,
        sa_column=Column(TSVECTOR, Computed("to_tsvector('english', text)", persisted=True)),
    )


class VoiceSessionKb(SQLModel, table=True):
    __tablename__ = "voice_session_kbs"
    __table_args__ = {"schema": SCHEMA}

    session_id: UUID = Field(primary_key=True)
    kb_id: UUID = Field(primary_key=True)
    org_id: UUID
    enabled: bool = True
    created_at: datetime


class VoiceCredential(SQLModel, table=True):
    """A provider key at org scope (``org_id`` set) or platform scope; the secret is never here
    in clear: local rows hold an envelope (ciphertext, nonce, wrapped data key, KEK id), AWS rows
    a Secrets Manager reference."""

    __tablename__ = "voice_credentials"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID | None = None
    scope: str
    service: str
    name: str
    backend: str
    secret_ref: str | None = None
    ciphertext: bytes | None = None
    nonce: bytes | None = None
    wrapped_key: bytes | None = None
    kek_id: str | None = None
    masked: str
    fingerprint: str
    metadata_: dict[str, Any] = Field(sa_column=Column("metadata", JSONB, nullable=False))
    active: bool = True
    last_validated_at: datetime | None = None
    last_validation_ok: bool | None = None
    last_validation_message: str | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime


class VoiceRoom(SQLModel, table=True):
    """One provisioned room of a session; a retried start adds a fresh one (the sweeper deletes the old)."""

    __tablename__ = "voice_rooms"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    org_id: UUID
    session_id: UUID
    provider: str
    name: str
    url: str | None = None  # None while the provider is being asked for the room
    expires_at: datetime
    created_at: datetime
    deleted_at: datetime | None = None
    delete_attempts: int = 0
    last_error: str | None = None
