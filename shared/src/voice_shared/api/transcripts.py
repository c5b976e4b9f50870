"""What transcript-svc answers: a session's stored segments (for the bot) and final transcripts.

The bot worker reads the segments to resume an interview that another bot started (after a crash).
Segment fields are those of the ``transcript.segment`` contract, camelCase on the wire.
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from voice_shared.api.access import Access
from voice_shared.api.common import ApiModel
from voice_shared.contracts import SessionStatus


class StoredSegment(ApiModel):
    """One utterance of the bot or the candidate, as transcript-svc stored it."""

    sequence: int = Field(ge=0, description="Per-session sequence number, from 0.")
    speaker: Literal["bot", "candidate"] = Field(description="Who spoke.")
    text: str = Field(description="What was said.")
    start_ms: int = Field(ge=0, description="Start, ms from session start.")
    end_ms: int = Field(ge=0, description="End, ms from session start.")
    question_id: str | None = Field(default=None, description="Question being discussed.")
    follow_up_index: int | None = Field(
        default=None, ge=0,
        description="With questionId: 0 for the main question, n for follow-up n (null if unknown).",
    )
    kind: str | None = Field(
        default=None, max_length=40,
        description="What a bot segment was ('greeting', 'question', 'follow_up', ...); 'answer' for "
                    "a candidate's segment.",
    )
    final: bool = Field(description="False for an interim result not (yet) replaced by its final one.")


class SessionSegments(ApiModel):
    """A session's transcript so far, in sequence order."""

    session_id: UUID = Field(description="The session.")
    segments: list[StoredSegment] = Field(description="Stored segments, ordered by sequence (gaps possible "
                                                      "while later segments overtake earlier ones).")
    next_sequence: int = Field(ge=0, description="The highest stored sequence + 1; 0 when none is stored.")


Role = Literal["interviewer", "candidate"]
ROLES: dict[str, Role] = {"bot": "interviewer", "candidate": "candidate"}
TranscriptFormat = Literal["json", "txt", "vtt"]
FORMATS: tuple[TranscriptFormat, ...] = ("json", "txt", "vtt")
CONTENT_TYPES: dict[TranscriptFormat, str] = {
    "json": "application/json", "txt": "text/plain; charset=utf-8", "vtt": "text/vtt; charset=utf-8",
}


class TranscriptSegmentPublic(StoredSegment):
    """A segment of the final transcript, with the speaker's role in the interview."""

    role: Role = Field(description="'interviewer' for the bot, 'candidate' for the candidate.")


class SpeakerStats(ApiModel):
    """What one side of the interview said."""

    words: int = Field(ge=0, description="Words spoken.")
    talk_ms: int = Field(ge=0, description="Time speaking (sum of the segments' lengths).")
    talk_share: float = Field(ge=0, le=1, description="Share of all speaking time, 0-1.")


class TranscriptSummary(ApiModel):
    """A final transcript without its content: what lists give."""

    id: UUID = Field(description="The transcript (one per session).")
    session_id: UUID = Field(description="The session it records.")
    revision: int = Field(ge=1, description="1 when finalised; up by one for each merge of late segments.")
    session_status: Literal["completed", "failed", "cancelled"] = Field(description="How the session ended.")
    end_reason: str = Field(description="Why the session ended, e.g. 'plan_complete'.")
    segment_count: int = Field(ge=0)
    word_count: int = Field(ge=0, description="Words of both speakers.")
    duration_ms: int = Field(ge=0, description="From session start to the end of the last segment.")
    speakers: dict[Role, SpeakerStats] = Field(description="Words and talk time of each speaker.")
    created_at: datetime = Field(description="When it was first finalised.")
    updated_at: datetime = Field(description="When its latest revision was made.")


class TranscriptPublic(TranscriptSummary):
    """A final transcript: its segments in order and, when asked for, the full text."""

    segments: list[TranscriptSegmentPublic] = Field(description="Every segment, in sequence order.")
    text: str | None = Field(default=None, description="The full text, one line per segment "
                                                       "(only with `includeText=true`).")


class TranscriptListItem(ApiModel):
    """A final transcript in a list, with the session it records (what session-svc knows of both)."""

    id: UUID = Field(description="The transcript.")
    session_id: UUID = Field(description="The session it records.")
    revision: int = Field(ge=1, description="Its newest revision.")
    session_status: Literal["completed", "failed", "cancelled"] = Field(description="How the session ended.")
    segment_count: int = Field(ge=0)
    word_count: int = Field(ge=0, description="Words of both speakers.")
    candidate_word_count: int = Field(ge=0, description="Words the candidate said.")
    duration_ms: int = Field(ge=0, description="From session start to the end of the last segment.")
    created_at: datetime = Field(description="When it was first finalised.")
    updated_at: datetime = Field(description="When its newest revision was made.")
    config_id: UUID = Field(description="The session's interview config.")
    config_version: int = Field(ge=1, description="The config version the session ran.")
    interview_type: str
    candidate_name: str
    candidate_email: str
    access: Access = Field(description="The caller's access to the session.")


class SessionAccess(ApiModel):
    """The caller's access to a session and its status (session-svc's answer to the other services)."""

    access: Access
    status: SessionStatus


class SessionsErasure(ApiModel):
    """Sessions whose record transcript-svc must remove (session-svc asks, for a candidate's erasure)."""

    session_ids: list[UUID] = Field(max_length=10_000)


class RecordRemoved(ApiModel):
    """What transcript-svc removed: counts only."""

    transcripts: int = Field(ge=0)
    segments: int = Field(ge=0)
    object_versions: int = Field(ge=0, description="Archived object versions (and delete markers) deleted.")


class RecordingPublic(ApiModel):
    """Where to download a session's audio recording, for a while."""

    url: str = Field(description="Downloads the file without further credentials until expiresAt.")
    expires_at: datetime
    content_type: str = Field(description="audio/ogg (Opus).")
    channels: str = Field(description="candidate_left_interviewer_right: who is on which channel.")
    duration_ms: int = Field(ge=0, description="Its 0 is the segments' 0: a player can jump to a segment's startMs.")
