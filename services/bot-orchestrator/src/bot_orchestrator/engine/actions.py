"""What the engine asks its host to do: speak, record an answer, end the interview."""

from dataclasses import dataclass
from enum import StrEnum


class SayKind(StrEnum):
    greeting = "greeting"
    question = "question"
    follow_up = "follow_up"
    idle_prompt = "idle_prompt"
    wrap_up = "wrap_up"
    closing = "closing"
    reconnected = "reconnected"


class EndReason(StrEnum):
    plan_complete = "plan_complete"
    candidate_requested_stop = "candidate_requested_stop"
    max_duration = "max_duration"
    idle_timeout = "idle_timeout"


@dataclass(frozen=True)
class Say:
    """Speak ``text``; a ``question``/``follow_up`` maps onto a QuestionAsked event."""

    text: str
    kind: SayKind
    at: float
    question_id: str | None = None
    follow_up_index: int | None = None  # 0 for the main question, n for follow-up n
    passage_ids: tuple[str, ...] = ()  # KB passages in the interviewer's context when it was asked


@dataclass(frozen=True)
class RecordAnswer:
    """The candidate's finished answer to a question or follow-up (an AnswerReceived event)."""

    question_id: str
    follow_up_index: int
    text: str
    started_at: float
    ended_at: float
    word_count: int


@dataclass(frozen=True)
class End:
    """The interview is over: leave the room (a BotFinished event)."""

    reason: EndReason
    at: float
    questions_asked: int
    follow_ups_asked: int


Action = Say | RecordAnswer | End
