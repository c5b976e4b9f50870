"""The candidate's join page: what it shows and the consent it records (gateway <-> session-svc)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from voice_shared.api.common import ApiModel, WriteModel
from voice_shared.api.pool import QueuePlace
from voice_shared.contracts import SessionStatus

# Session metadata key whose text names the hiring company on the join page.
COMPANY_NAME_KEY = "companyName"


class JoinInfo(ApiModel):
    """Everything the join page tells a candidate before they consent (session-svc, internal)."""

    session_id: UUID
    status: SessionStatus
    status_reason: str | None = Field(default=None, description="Why it ended (e.g. 'link_expired'), once it has.")
    candidate_name: str
    interviewer_name: str = Field(description="The AI interviewer's name (the config's botName).")
    company_name: str | None = Field(
        default=None, description=f"From the session's metadata key `{COMPANY_NAME_KEY}`, if set."
    )
    language: str
    max_duration_minutes: int
    transport: Literal["local", "daily"]
    room_url: str | None = Field(default=None, description="Daily only, after consent: the room to open.")
    meeting_token: str | None = Field(
        default=None, description="Daily only, after consent: the candidate's meeting token for that room."
    )
    data_retention_days: int = Field(description="How long recordings and transcripts are kept.")
    consent_at: datetime | None
    consent_text_version: str | None
    join_deadline: datetime | None = Field(default=None, description="Until when the candidate may press Start.")
    dispatched_at: datetime | None = Field(
        default=None, description="When the candidate pressed Start (the interviewer is on the way); null before.")
    queue: QueuePlace | None = Field(
        default=None, description="While every interviewer is busy: the candidate's place in line and an estimate.")


class ConsentCreate(WriteModel):
    """The candidate agreed to the text of ``consentTextVersion`` (shown by the join page)."""

    agreed: Literal[True] = Field(description="Must be true: an empty request is not consent.")
    consent_text_version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


class ConsentPublic(ApiModel):
    """The consent stored on the session (the first one, if the candidate agreed twice)."""

    session_id: UUID
    consent_at: datetime
    consent_text_version: str
    room_url: str | None = Field(default=None, description="Daily only: the room to open now.")
    meeting_token: str | None = Field(default=None, description="Daily only: the candidate's meeting token.")
