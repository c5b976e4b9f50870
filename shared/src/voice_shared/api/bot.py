"""What the bot worker reads from session-svc's internal API before it takes a session."""

from uuid import UUID

from pydantic import Field

from voice_shared.api.common import ApiModel
from voice_shared.api.configs import InterviewDefinition
from voice_shared.contracts.events import SessionStatus


class SessionPlan(ApiModel):
    """A session as its bot runs it: the config version's definition and the KBs it may search."""

    session_id: UUID = Field(description="The session.")
    org_id: UUID = Field(description="Its organisation.")
    status: SessionStatus = Field(description="Its status now; a bot serves only ready or active sessions.")
    config_id: UUID = Field(description="The interview config.")
    config_version: int = Field(ge=1, description="The config version recorded on the session.")
    definition: InterviewDefinition = Field(description="What the bot runs: persona, questions, providers.")
    kb_ids: list[UUID] = Field(default_factory=list, description="Enabled knowledge bases, in link order.")


class InvitedGreetings(ApiModel):
    """What the interviewers of sessions waiting for their candidate's Start say first (texts only)."""

    greetings: list[str]
