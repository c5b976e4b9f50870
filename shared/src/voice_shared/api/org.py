"""The organisation's settings and a candidate's erasure receipt, as the API gives them."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from voice_shared.api.common import ApiModel, WriteModel


class OrgSettingsUpdate(WriteModel):
    retention_days: int = Field(ge=1, le=3650, description="Days transcripts, recordings and their archived "
                                                           "files are kept after an interview, then deleted.")
    max_concurrent_interviews: int | None = Field(
        default=None, ge=1, le=10_000,
        description="Interviews the org may run at once (dispatched or active); unset: the platform's default.")


class OrgSettingsPublic(ApiModel):
    retention_days: int = Field(description="Days records are kept (the platform's default until an admin sets it).")
    is_default: bool = Field(description="True while the org has not set its own value.")
    max_concurrent_interviews: int = Field(
        description="Interviews the org may run at once; a Start beyond it is refused (429 concurrency_limit).")
    max_concurrent_interviews_is_default: bool = Field(description="True while this is the platform's default.")
    updated_by: str | None = None
    updated_at: datetime | None = None


class ErasureReceipt(ApiModel):
    """What a candidate's erasure removed, where, with counts. Kept as an audit record; it holds no
    personal data (not the email)."""

    id: UUID
    org_id: UUID
    requested_by: str = Field(description="The org admin who asked.")
    requested_at: datetime
    session_count: int = Field(ge=0, description="The candidate's sessions found.")
    removed: dict[str, dict[str, Any]] = Field(
        description="Per service, what went: session-svc (sessions' candidate fields cleared, sessions "
                    "cancelled), transcript-svc (transcripts, segments, object versions).",
    )
