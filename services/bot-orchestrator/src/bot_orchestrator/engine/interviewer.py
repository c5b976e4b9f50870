"""The interviewer port: after each answer it chooses the next step; the scripted one by rules."""

from dataclasses import dataclass, field
from typing import Protocol

from bot_orchestrator.engine.lines import Lines
from bot_orchestrator.engine.passages import Passage
from voice_shared.api.configs import InterviewDefinition, Question
from voice_shared.matching import spoken_list, word_count


@dataclass(frozen=True)
class Exchange:
    """What the interviewer asked about the current question and what the candidate answered."""

    follow_up_index: int
    asked: str
    answer: str


@dataclass(frozen=True)
class CoveredQuestion:
    """An earlier question of the plan and what its answers covered."""

    question: Question
    answer: str
    covered_items: tuple[str, ...]


@dataclass(frozen=True)
class TurnContext:
    """Everything an interviewer may know when the candidate has just answered."""

    definition: InterviewDefinition
    question: Question
    question_number: int  # 1-based
    exchanges: tuple[Exchange, ...]  # the last one holds the answer just given
    covered_items: tuple[str, ...]
    missing_items: tuple[str, ...]
    items_asked_about: tuple[str, ...]  # named in earlier follow-ups of this question
    follow_ups_asked: int
    follow_ups_left: int  # 0 when follow-ups are off, used up, or the question's time is up
    seconds_left_for_question: float
    earlier: tuple[CoveredQuestion, ...] = ()
    passages: tuple[Passage, ...] = ()

    @property
    def is_last_question(self) -> bool:
        return self.question_number == len(self.definition.questions)


@dataclass(frozen=True)
class AskFollowUp:
    text: str
    about_items: tuple[str, ...] = ()  # expected items the follow-up names


@dataclass(frozen=True)
class NextQuestion:
    transition: str = ""  # said just before the next question (or the closing line)


@dataclass(frozen=True)
class EndInterview:
    reason: str
    text: str = ""


Decision = AskFollowUp | NextQuestion | EndInterview


class Interviewer(Protocol):
    """Chooses the next step; the engine checks the choice against the plan before acting on it."""

    async def decide(self, turn: TurnContext) -> Decision: ...


@dataclass(frozen=True)
class ScriptedInterviewer:
    """Deterministic follow-ups: name missing expected items (each once), else probe a short answer once.

    "Short" counts the words of everything the candidate said about the question so far.
    """

    lines: Lines = field(default_factory=Lines)
    short_answer_words: int = 12
    items_per_follow_up: int = 3

    async def decide(self, turn: TurnContext) -> Decision:
        if turn.follow_ups_left > 0:
            not_yet_asked = [i for i in turn.missing_items if i not in turn.items_asked_about]
            if not_yet_asked:
                items = tuple(not_yet_asked[: self.items_per_follow_up])
                return AskFollowUp(self.lines.follow_up_on_items.format(items=spoken_list(items)), items)
            probed_already = any(e.asked == self.lines.follow_up_on_short_answer for e in turn.exchanges)
            said = word_count(" ".join(e.answer for e in turn.exchanges))
            if said < self.short_answer_words and not probed_already:
                return AskFollowUp(self.lines.follow_up_on_short_answer)
        return NextQuestion(self.lines.thanks)
