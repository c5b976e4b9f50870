"""Voice sessions, their knowledge-base links and shares, and the org's stats."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from voice_shared.api.access import Access, ShareLevel
from voice_shared.api.analytics import Decision, Scorer
from voice_shared.api.common import ApiModel, Email, Metadata, WriteModel
from voice_shared.api.pool import QueuePlace
from voice_shared.api.rooms import RoomPublic
from voice_shared.contracts import SessionStatus


class SessionCreate(WriteModel):
    config_id: UUID
    interview_type: str = Field(min_length=1, max_length=64)
    candidate_name: str = Field(min_length=1, max_length=200)
    candidate_email: Email
    workspace_id: UUID | None = None
    shared_with_workspace: bool = False
    assignee_id: str | None = Field(default=None, min_length=1, max_length=200)
    kb_ids: list[UUID] = Field(default_factory=list, max_length=20)
    metadata: Metadata = Field(default_factory=dict)
    join_deadline: AwareDatetime | None = Field(
        default=None, description="Until when the candidate may start the interview from the link; unset: "
                                  "start sets it from the config's linkValidHours.")


class SessionUpdate(WriteModel):
    candidate_name: str | None = Field(default=None, min_length=1, max_length=200)
    candidate_email: Email | None = None
    metadata: Metadata | None = None
    assignee_id: str | None = Field(default=None, min_length=1, max_length=200)
    shared_with_workspace: bool | None = None
    join_deadline: AwareDatetime | None = Field(
        default=None, description="A new deadline for the candidate's Start (while the session is pending or "
                                  "ready); the join link then expires with it.")


class SessionTransition(WriteModel):
    """Body of start, end and cancel (all optional)."""

    reason: str | None = Field(default=None, min_length=1, max_length=200)


class SessionScore(ApiModel):
    """What analytics said about a session: its current analytics and its reviewers' decision.

    A review may be taken in before the analytics it reviews, so either half may be null."""

    # The literals are quoted: analytics.py imports Access from this module (see the end of it).
    overall_score: float | None = Field(ge=0, le=100, description="The current analytics' overall score 0-100.")
    scorer: Scorer | None = Field(description="How the current analytics were scored.")
    analytics_version: int | None = Field(ge=1, description="1 for the first scoring; up by one each rescoring.")
    scored_at: datetime | None = Field(description="When the current analytics were scored.")
    decision: Decision | None = Field(
        description="The newest decision reviewers made; null while none has.",
    )
    decided_at: datetime | None = Field(description="When that decision was made.")


class SessionPublic(ApiModel):
    id: UUID
    org_id: UUID
    workspace_id: UUID | None
    config_id: UUID
    config_version: int
    interview_type: str
    candidate_name: str
    candidate_email: str
    status: SessionStatus
    status_reason: str | None
    metadata: dict[str, Any]
    created_by: str
    assignee_id: str | None
    shared_with_workspace: bool
    created_at: datetime
    updated_at: datetime
    ready_at: datetime | None
    active_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None
    access: Access = Field(description="What the caller may do with this session.")
    join_url: str | None = Field(
        default=None,
        description="The candidate's join link (managers only, while the session is not over); "
                    "the same link on every read until the session starts, then a fresh one.",
    )
    join_url_expires_at: datetime | None = Field(default=None, description="When joinUrl stops working.")
    consent_at: datetime | None = Field(
        default=None, description="When the candidate consented to the AI interview and its recording."
    )
    consent_text_version: str | None = Field(
        default=None, description="The version of the consent text the candidate agreed to."
    )
    join_deadline: datetime | None = Field(
        default=None, description="Until when the candidate may press Start; past it a ready session ends "
                                  "failed with reason link_expired.")
    dispatched_at: datetime | None = Field(
        default=None, description="When the bot job went out (the candidate pressed Start, or a manager "
                                  "dispatched); null again if the bot let it go because no one connected.")
    queue: QueuePlace | None = Field(
        default=None, description="While the dispatched session waits for a free bot: its place and an estimate "
                                  "(single-session reads only).")
    room: RoomPublic | None = Field(
        default=None,
        description="The live room, for callers who manage the session, on single-session reads "
                    "only (never in lists).",
    )
    analytics: SessionScore | None = Field(
        default=None,
        description="What analytics said about it (score and reviewers' decision), for callers with "
                    "'view_analytics' access; null for others, and while it is neither scored nor reviewed.",
    )


class KbLinkCreate(WriteModel):
    kb_id: UUID
    enabled: bool = True


class KbLinkUpdate(WriteModel):
    enabled: bool


class KbLinkPublic(ApiModel):
    kb_id: UUID
    name: str
    enabled: bool
    created_at: datetime


class ShareCreate(WriteModel):
    user_id: str = Field(min_length=1, max_length=200)
    level: ShareLevel


class SharePublic(ApiModel):
    id: UUID
    session_id: UUID
    user_id: str
    level: ShareLevel
    created_by: str
    created_at: datetime


ScoreBucket = Literal["0-20", "20-40", "40-60", "60-80", "80-100"]
DecisionCount = Literal["advance", "hold", "reject", "none"]


class ConfigScores(ApiModel):
    """The scores of one config's sessions that have current analytics (those the caller may see
    with 'view_analytics' access)."""

    config_id: UUID
    scored: int = Field(ge=0, description="Sessions with current analytics.")
    average_score: float = Field(ge=0, le=100, description="Their average overall score.")
    score_distribution: dict[ScoreBucket, int] = Field(
        description="How many scored in each bucket: '0-20' is 0 up to but not including 20, and so on; "
                    "'80-100' includes 100.",
    )
    decisions: dict[DecisionCount, int] = Field(
        description="How many have each reviewers' decision (the newest one made); 'none': no decision yet.",
    )


class Stats(ApiModel):
    """Counts over the sessions the caller may see; scores over those whose analytics they may see."""

    total: int
    by_status: dict[SessionStatus, int]
    completed_this_week: int
    completed_this_month: int
    average_duration_seconds: float | None
    average_score: float | None = Field(
        default=None, description="Average overall score of the sessions with current analytics; null if none.",
    )
    by_config: list[ConfigScores] = Field(
        default_factory=list, description="Scores per config that has sessions with current analytics.",
    )
