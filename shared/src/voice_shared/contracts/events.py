"""Every event contract of the platform (see DESIGN.md). One class = one routing key = one example."""

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field

from voice_shared.contracts.envelope import Event, register


class SessionStatus(StrEnum):
    pending = "pending"
    ready = "ready"
    active = "active"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def live(self) -> bool:
        """Ready or active: its room is open, a bot may serve it, its candidate may join."""
        return self in (SessionStatus.ready, SessionStatus.active)

    @property
    def terminal(self) -> bool:
        """Completed, failed or cancelled: nothing changes it any more."""
        return self in (SessionStatus.completed, SessionStatus.failed, SessionStatus.cancelled)


# --- session-svc -----------------------------------------------------------------------------


@register
class SessionCreated(Event):
    """A voice session was created for a candidate."""

    type = "session.created"
    session_id: UUID = Field(description="The new session.")
    config_id: UUID = Field(description="Interview config the session runs.")
    config_version: int = Field(ge=1, description="Config version recorded at creation.")
    interview_type: str = Field(description="Free-form interview type, e.g. 'technical'.")
    workspace_id: UUID | None = Field(default=None, description="Optional workspace.")
    created_by: str = Field(description="Subject of the user who created it.")


@register
class SessionStarted(Event):
    """A session was started (the candidate invited): its room is provisioned and its join link issued,
    valid until the join deadline. No bot is taken yet: that is ``session.dispatched``."""

    type = "session.started"
    session_id: UUID = Field(description="The session.")
    config_id: UUID = Field(description="Interview config.")
    config_version: int = Field(ge=1, description="Config version the bot must run.")
    transport: Literal["local", "daily"] = Field(description="Room transport of the config.")
    started_by: str = Field(description="Subject of the user who started it.")
    join_deadline: datetime | None = Field(
        default=None, description="Until when the candidate may start the interview from the link.")


@register
class SessionDispatched(Event):
    """The session's bot job: the candidate pressed Start (or a manager dispatched it), so one warm
    bot takes the session now. The bot job queue is bound to this event."""

    type = "session.dispatched"
    session_id: UUID = Field(description="The session.")
    config_id: UUID = Field(description="Interview config.")
    config_version: int = Field(ge=1, description="Config version the bot must run.")
    transport: Literal["local", "daily"] = Field(description="Room transport of the config.")
    dispatched_by: str = Field(description="'candidate:<session id>' or the subject of the user who dispatched it.")
    attempt: int = Field(default=1, ge=1, description="1 for the first Start; more after a bot released it.")


@register
class SessionEnded(Event):
    """A session reached a terminal state."""

    type = "session.ended"
    session_id: UUID = Field(description="The session.")
    status: Literal["completed", "failed", "cancelled"] = Field(description="Final status.")
    reason: str = Field(description="Why it ended, e.g. 'plan_complete', 'bot_lost', 'cancelled'.")
    duration_seconds: float | None = Field(
        default=None, description="Seconds between becoming active and ending, if it was active."
    )


@register
class OrgSettingsUpdated(Event):
    """An org admin changed the organisation's settings (session-svc owns them)."""

    type = "org.settings_updated"
    retention_days: int = Field(ge=1, description="Days transcripts and recordings are kept after an interview.")


@register
class CandidateErased(Event):
    """An org admin erased a candidate's personal data: every service removes what it holds of these
    sessions. Carries no personal data (the sessions' ids only)."""

    type = "candidate.erased"
    erasure_id: UUID = Field(description="The erasure's receipt.")
    session_ids: list[UUID] = Field(description="The candidate's sessions.")


@register
class ConfigCreated(Event):
    """An interview config was created."""

    type = "config.created"
    config_id: UUID = Field(description="The config.")
    name: str = Field(description="Its unique name in the org.")
    config_version: int = Field(ge=1, description="Its version (1).")


@register
class ConfigUpdated(Event):
    """An interview config changed; its version was bumped."""

    type = "config.updated"
    config_id: UUID = Field(description="The config.")
    name: str = Field(description="Its name after the change.")
    config_version: int = Field(ge=2, description="The new version.")
    active: bool = Field(description="Whether new sessions may use it.")


@register
class ConfigDeleted(Event):
    """An interview config was deleted."""

    type = "config.deleted"
    config_id: UUID = Field(description="The deleted config.")


# --- bot worker and orchestrator -------------------------------------------------------------


@register
class BotAssigned(Event):
    """The orchestrator handed a session's job to a bot."""

    type = "bot.assigned"
    session_id: UUID = Field(description="The session.")
    bot_id: str = Field(description="The bot worker's id.")
    attempt: int = Field(ge=1, description="1 for the first bot; more after a resume.")


@register
class BotLost(Event):
    """A bot stopped sending heartbeats."""

    type = "bot.lost"
    bot_id: str = Field(description="The lost bot worker.")
    session_id: UUID | None = Field(default=None, description="Session it was serving, if any.")
    last_heartbeat_at: datetime = Field(description="Its last heartbeat.")


@register
class BotReleased(Event):
    """A bot let a dispatched session go without interviewing: the candidate did not connect in time.
    The session stays ready; the candidate may press Start again before the join deadline."""

    type = "bot.released"
    session_id: UUID = Field(description="The session.")
    bot_id: str = Field(description="The bot worker's id.")
    reason: str = Field(description="e.g. 'candidate_no_show'.")


@register
class BotHeartbeat(Event):
    """A bot worker's periodic sign of life."""

    type = "bot.heartbeat"
    bot_id: str = Field(description="The bot worker's id.")
    state: Literal["starting", "idle", "busy", "draining"] = Field(description="What it is doing.")
    session_id: UUID | None = Field(default=None, description="Session it serves when busy.")
    rss_bytes: int = Field(ge=0, description="Resident memory of the process.")
    interviews_served: int = Field(ge=0, description="Interviews since the process started.")


@register
class BotJoined(Event):
    """The bot joined the session's room."""

    type = "bot.joined"
    session_id: UUID = Field(description="The session.")
    bot_id: str = Field(description="The bot worker's id.")
    resumed: bool = Field(default=False, description="True when it rejoined after a crash.")


@register
class BotFinished(Event):
    """The bot left the room at the end of an interview."""

    type = "bot.finished"
    session_id: UUID = Field(description="The session.")
    bot_id: str = Field(description="The bot worker's id.")
    outcome: Literal["completed", "failed"] = Field(description="Whether the interview finished.")
    reason: str = Field(description="e.g. 'plan_complete', 'candidate_ended', 'idle_timeout'.")
    latency_p50_ms: float | None = Field(default=None, description="Voice-to-voice latency p50.")
    latency_p95_ms: float | None = Field(default=None, description="Voice-to-voice latency p95.")
    questions_asked: int = Field(default=0, ge=0, description="Main questions asked.")
    follow_ups_asked: int = Field(default=0, ge=0, description="Follow-up questions asked.")
    answers_received: int | None = Field(
        default=None, ge=0, description="Candidate answers recorded (None from bots that do not count them)."
    )


@register
class PoolScaled(Event):
    """The orchestrator changed the number of bot workers."""

    type = "pool.scaled"
    desired: int = Field(ge=0, description="Bots wanted after the change.")
    busy: int = Field(ge=0, description="Bots serving interviews.")
    idle: int = Field(ge=0, description="Warm bots waiting for a job.")
    reason: str = Field(description="e.g. 'schedule', 'demand', 'bot_lost'.")


# --- interview and transcript ----------------------------------------------------------------


@register
class QuestionAsked(Event):
    """The interviewer asked a question or a follow-up."""

    type = "interview.question_asked"
    session_id: UUID = Field(description="The session.")
    question_id: str = Field(description="Question id from the config.")
    follow_up_index: int = Field(ge=0, description="0 for the main question, n for follow-up n.")
    text: str = Field(description="What was said.")
    asked_at_ms: int = Field(ge=0, description="Milliseconds from session start.")
    kb_passages: list[str] = Field(default_factory=list, description="KB chunk ids used.")


@register
class AnswerReceived(Event):
    """The candidate finished answering a question or follow-up."""

    type = "interview.answer_received"
    session_id: UUID = Field(description="The session.")
    question_id: str = Field(description="Question id from the config.")
    follow_up_index: int = Field(ge=0, description="0 for the main question, n for follow-up n.")
    started_at_ms: int = Field(ge=0, description="Answer start, ms from session start.")
    ended_at_ms: int = Field(ge=0, description="Answer end, ms from session start.")
    word_count: int = Field(ge=0, description="Words in the transcribed answer.")


@register
class TranscriptSegment(Event):
    """One utterance of the bot or the candidate."""

    type = "transcript.segment"
    session_id: UUID = Field(description="The session.")
    sequence: int = Field(ge=0, description="Per-session sequence number, from 0.")
    speaker: Literal["bot", "candidate"] = Field(description="Who spoke.")
    text: str = Field(description="What was said.")
    start_ms: int = Field(ge=0, description="Start, ms from session start.")
    end_ms: int = Field(ge=0, description="End, ms from session start.")
    question_id: str | None = Field(default=None, description="Question being discussed.")
    final: bool = Field(default=True, description="False for interim results.")
    follow_up_index: int | None = Field(
        default=None, ge=0,
        description="With question_id: 0 for the main question, n for follow-up n (None if unknown).",
    )
    kind: str | None = Field(
        default=None, max_length=40,
        description="What a bot segment was: 'greeting', 'question', 'follow_up', 'idle_prompt', "
                    "'wrap_up', 'closing' or 'reconnected'; 'answer' for a candidate's segment.",
    )


@register
class RecordingCompleted(Event):
    """The bot stored the interview's audio recording (when the config asks for one)."""

    type = "recording.completed"
    session_id: UUID = Field(description="The session.")
    object_key: str = Field(description="Where it is in the object store (beside the transcript).")
    content_type: str = Field(default="audio/ogg", description="Ogg/Opus, stereo.")
    channels: str = Field(default="candidate_left_interviewer_right", description="Who is on which channel.")
    duration_ms: int = Field(ge=0, description="Length; 0 ms is the interview's clock origin, as in segments.")


@register
class TranscriptCompleted(Event):
    """transcript-svc finalised a session's transcript (revision 1), or merged late segments into it
    (revision 2, 3, ...). Consumers keep the highest revision they have seen."""

    type = "transcript.completed"
    session_id: UUID = Field(description="The session.")
    transcript_id: UUID = Field(description="The stored transcript (the same id for every revision).")
    revision: int = Field(ge=1, description="1 when first finalised; up by one for each merge of late segments.")
    finalised_at: datetime = Field(description="When revision 1 was made (the same in every revision).")
    session_status: Literal["completed", "failed", "cancelled"] = Field(description="How the session ended.")
    segment_count: int = Field(ge=0, description="Segments in the transcript.")
    word_count: int = Field(ge=0, description="Words in the transcript, both speakers.")
    candidate_word_count: int = Field(ge=0, description="Words the candidate said.")
    duration_ms: int = Field(ge=0, description="From session start to the end of the last segment.")
    object_keys: dict[str, str] = Field(
        description="Archived renderings in the object store by format: 'json', 'txt', 'vtt'.",
    )


@register
class TranscriptDeleted(Event):
    """A session's transcript, its segments and archived objects were deleted (by an org admin, the
    retention sweeper or a candidate's erasure). Whatever was derived from it must go too."""

    type = "transcript.deleted"
    session_id: UUID = Field(description="The session.")
    transcript_id: UUID | None = Field(default=None, description="The deleted transcript, if one was finalised.")
    reason: Literal["deleted", "retention", "erasure"] = Field(description="Why it was deleted.")


@register
class AnalyticsCompleted(Event):
    """analytics-svc scored a session against its rubric: a new version, now the session's current one."""

    type = "analytics.completed"
    session_id: UUID = Field(description="The session.")
    analytics_id: UUID = Field(description="The stored analytics.")
    analytics_version: int = Field(default=1, ge=1, description="1 at first; up by one each rescoring.")
    overall_score: float = Field(ge=0, le=100, description="Overall score 0-100.")
    scorer: Literal["heuristic", "llm"] = Field(description="How it was scored.")
    transcript_revision: int = Field(default=1, ge=1, description="The transcript revision scored.")


@register
class AnalyticsFailed(Event):
    """analytics-svc could not score a session (the scorer failed; the failure is recorded as a version)."""

    type = "analytics.failed"
    session_id: UUID = Field(description="The session.")
    analytics_id: UUID = Field(description="The recorded failure.")
    analytics_version: int = Field(ge=1, description="Its version among the session's analytics.")
    scorer: Literal["heuristic", "llm"] = Field(description="The scorer that failed.")
    error: str = Field(max_length=1000, description="What went wrong.")


@register
class AnalyticsReviewed(Event):
    """A recruiter reviewed a session's analytics: reviewer scores per criterion and, maybe, a decision."""

    type = "analytics.reviewed"
    session_id: UUID = Field(description="The session.")
    review_id: UUID = Field(description="The stored review.")
    analytics_id: UUID = Field(description="The analytics version reviewed.")
    decision: Literal["advance", "hold", "reject"] | None = Field(default=None, description="The final decision.")
    reviewer: str = Field(max_length=200, description="Who reviewed (the token's subject).")
