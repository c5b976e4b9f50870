"""What transcript-svc's internal API answers: a session's stored transcript segments.

The bot worker reads them to resume an interview that another bot started (after a crash).
Fields are those of the ``transcript.segment`` contract, camelCase on the wire.
"""

from typing import Literal
from uuid import UUID

from pydantic import Field

from voice_shared.api.common import ApiModel


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
