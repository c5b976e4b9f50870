"""The interview engine: a clock-free state machine from events (time passed in) to actions."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import structlog

from bot_orchestrator.engine.actions import Action, End, EndReason, RecordAnswer, Say, SayKind
from bot_orchestrator.engine.interviewer import (
    AskFollowUp,
    CoveredQuestion,
    Decision,
    EndInterview,
    Exchange,
    Interviewer,
    NextQuestion,
    TurnContext,
)
from bot_orchestrator.engine.lines import Lines, joined
from bot_orchestrator.engine.passages import NoPassages, Passage, PassageSource
from bot_orchestrator.engine.stop import asks_to_stop
from voice_shared.api.configs import InterviewDefinition, Question
from voice_shared.contracts.events import TranscriptSegment
from voice_shared.matching import coverage, word_count, words

log = structlog.get_logger()


@dataclass(frozen=True)
class EngineRules:
    passages_per_search: int = 3
    # A candidate still talking when the interview's time is up may finish, but not forever.
    overrun_grace_seconds: float = 60.0
    max_spoken_chars: int = 600  # a model's follow-up or transition longer than this is cut


@dataclass(frozen=True)
class PastSegment:
    """One utterance from the transcript so far, as a resuming bot reads it."""

    speaker: Literal["bot", "candidate"]
    text: str
    question_id: str | None = None
    follow_up_index: int | None = None
    end_ms: int = 0

    @classmethod
    def from_event(cls, segment: TranscriptSegment) -> "PastSegment":
        return cls(segment.speaker, segment.text, segment.question_id, None, segment.end_ms)


@dataclass
class _Turn:
    follow_up_index: int
    asked: str
    answer: str | None = None


@dataclass
class _QuestionInProgress:
    question: Question
    number: int  # 1-based
    asked_at: float
    turns: list[_Turn]
    passages: tuple[Passage, ...] = ()
    items_asked_about: list[str] = field(default_factory=list)

    @property
    def answers(self) -> list[str]:
        return [t.answer for t in self.turns if t.answer]

    @property
    def follow_ups_asked(self) -> int:
        return len(self.turns) - 1

    def time_is_up(self, now: float) -> bool:
        return now >= self.asked_at + self.question.time_limit_seconds


class InterviewEngine:
    """Walks the question plan; the interviewer only chooses among the steps the plan allows.

    Every event method takes the current monotonic time and returns the actions to carry out, in order.
    Events are handled one at a time, so a tick that arrives while the interviewer thinks waits its turn.
    """

    def __init__(
        self,
        definition: InterviewDefinition,
        interviewer: Interviewer,
        passages: PassageSource | None = None,
        lines: Lines | None = None,
        rules: EngineRules | None = None,
    ) -> None:
        self._plan = definition
        self._interviewer = interviewer
        self._passages = passages or NoPassages()
        self._lines = lines or Lines()
        self._rules = rules or EngineRules()
        self._lock = asyncio.Lock()
        self._started = False
        self._ended = False
        self._deadline = 0.0
        self._current: _QuestionInProgress | None = None
        self._earlier: list[_QuestionInProgress] = []
        self._asked_ids: set[str] = set()
        self._follow_ups_asked = 0
        self._last_activity = 0.0
        self._candidate_speaking = False
        self._idle_prompted = False

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def current_question_id(self) -> str | None:
        return self._current.question.id if self._current else None

    @property
    def current_follow_up_index(self) -> int | None:
        return self._current.turns[-1].follow_up_index if self._current else None

    # --- events --------------------------------------------------------------------------------

    async def started(self, now: float) -> list[Action]:
        """The candidate is in the room: greet and ask the first question."""
        async with self._lock:
            if self._started:
                return []
            return await self._start(now)

    async def resumed(
        self, now: float, transcript_so_far: Sequence[PastSegment], elapsed_seconds: float | None = None
    ) -> list[Action]:
        """Another bot ran this interview until it died: say so and go on with the next unanswered question.

        ``elapsed_seconds`` is the interview time already used; by default the end of the last segment.
        """
        async with self._lock:
            if self._started:
                return []
            if not any(s.speaker == "bot" for s in transcript_so_far):
                return await self._start(now)
            if elapsed_seconds is None:
                elapsed_seconds = max(s.end_ms for s in transcript_so_far) / 1000
            self._started = True
            self._deadline = now - elapsed_seconds + self._plan.max_duration_minutes * 60
            next_index = self._rebuild(transcript_so_far)
            actions: list[Action] = [Say(self._lines.reconnected, SayKind.reconnected, now)]
            if now >= self._deadline:
                return actions + self._finish(EndReason.max_duration, now, self._lines.time_up, SayKind.wrap_up)
            if next_index == len(self._plan.questions):
                return actions + self._finish(EndReason.plan_complete, now, self._lines.closing, SayKind.closing)
            return actions + await self._ask(next_index, now, self._lines.resumed_question)

    def candidate_started_speaking(self, now: float) -> None:
        """Voice activity from the candidate: no silence prompt and no cut-off while they talk."""
        self._candidate_speaking = True
        self._last_activity = now

    def bot_stopped_speaking(self, now: float) -> None:
        """The bot's speech finished playing: silence is counted from here."""
        self._last_activity = max(self._last_activity, now)

    async def candidate_said(self, text: str, started_at: float, ended_at: float) -> list[Action]:
        """The candidate finished a turn."""
        async with self._lock:
            self._candidate_speaking = False
            if not self._started or self._ended or self._current is None or not words(text):
                return []
            self._last_activity = ended_at
            self._idle_prompted = False
            if asks_to_stop(text):
                return self._finish(EndReason.candidate_requested_stop, ended_at, self._lines.stop_goodbye)
            current = self._current
            turn = current.turns[-1]
            turn.answer = joined(turn.answer or "", text)
            actions: list[Action] = [
                RecordAnswer(
                    current.question.id, turn.follow_up_index, text, started_at, ended_at, word_count(text)
                )
            ]
            if ended_at >= self._deadline:
                return actions + self._finish(EndReason.max_duration, ended_at, self._lines.time_up, SayKind.wrap_up)
            if current.time_is_up(ended_at):
                return actions + await self._next(ended_at, self._lines.thanks, out_of_time=True)
            context = await self._turn_context(ended_at)
            decision = self._checked(await self._interviewer.decide(context), context)
            return actions + await self._carry_out(decision, ended_at, context)

    async def tick(self, now: float) -> list[Action]:
        """Time passed: enforce the time limits and handle silence."""
        async with self._lock:
            if not self._started or self._ended or self._current is None:
                return []
            if now >= self._deadline and (
                not self._candidate_speaking or now >= self._deadline + self._rules.overrun_grace_seconds
            ):
                return self._finish(EndReason.max_duration, now, self._lines.time_up, SayKind.wrap_up)
            if self._candidate_speaking:
                return []
            if self._current.time_is_up(now):
                return await self._next(now, "", out_of_time=True)
            if now - self._last_activity < self._plan.idle_timeout_seconds:
                return []
            if self._idle_prompted:
                return self._finish(EndReason.idle_timeout, now, self._lines.idle_goodbye)
            self._idle_prompted = True
            self._last_activity = now
            return [
                Say(
                    self._lines.idle_prompt, SayKind.idle_prompt, now,
                    self._current.question.id, self._current.turns[-1].follow_up_index,
                )
            ]

    # --- steps ---------------------------------------------------------------------------------

    async def _start(self, now: float) -> list[Action]:
        self._started = True
        self._deadline = now + self._plan.max_duration_minutes * 60
        greeting = Say(self._plan.greeting, SayKind.greeting, now)
        return [greeting, *await self._ask(0, now, self._lines.first_question)]

    async def _ask(self, index: int, now: float, template: str, transition: str = "") -> list[Action]:
        question = self._plan.questions[index]
        passages = await self._search(joined(question.text, *question.follow_up.expected_items))
        if self._current is not None:
            self._earlier.append(self._current)
        text = joined(transition, template.format(question=question.text))
        self._current = _QuestionInProgress(question, index + 1, now, [_Turn(0, text)], passages)
        self._asked_ids.add(question.id)
        self._last_activity = now
        return [Say(text, SayKind.question, now, question.id, 0, tuple(p.id for p in passages))]

    async def _next(self, now: float, transition: str, out_of_time: bool = False) -> list[Action]:
        """The next question of the plan, or the closing line after the last one."""
        assert self._current is not None
        index = self._current.number  # the next question's 0-based index
        if index == len(self._plan.questions):
            return self._finish(EndReason.plan_complete, now, joined(transition, self._lines.closing))
        if out_of_time:
            transition = joined(transition, self._lines.move_on_for_time)
        template = self._lines.last_question if index == len(self._plan.questions) - 1 else self._lines.next_question
        return await self._ask(index, now, template, transition)

    def _finish(self, reason: EndReason, now: float, text: str, kind: SayKind = SayKind.closing) -> list[Action]:
        self._ended = True
        log.info("interview_ended", reason=reason, questions_asked=len(self._asked_ids))
        question_id = self._current.question.id if self._current else None
        return [
            Say(text, kind, now, question_id),
            End(reason, now, len(self._asked_ids), self._follow_ups_asked),
        ]

    async def _turn_context(self, now: float) -> TurnContext:
        current = self._current
        assert current is not None
        question = current.question
        covered, missing = coverage(question.follow_up.expected_items, current.answers)
        topic = missing or [current.turns[-1].answer or ""]
        fresh = await self._search(joined(question.text, *topic))
        budget = question.follow_up.max_follow_ups if question.follow_up.enabled else 0
        return TurnContext(
            definition=self._plan,
            question=question,
            question_number=current.number,
            exchanges=tuple(Exchange(t.follow_up_index, t.asked, t.answer or "") for t in current.turns),
            covered_items=tuple(covered),
            missing_items=tuple(missing),
            items_asked_about=tuple(current.items_asked_about),
            follow_ups_asked=current.follow_ups_asked,
            follow_ups_left=0 if current.time_is_up(now) else max(0, budget - current.follow_ups_asked),
            seconds_left_for_question=max(0.0, current.asked_at + question.time_limit_seconds - now),
            earlier=tuple(self._covered(q) for q in self._earlier),
            passages=_distinct(fresh + current.passages),
        )

    def _checked(self, decision: Decision, context: TurnContext) -> Decision:
        """Hold the interviewer to the plan: no follow-ups past the budget, no ending it early."""
        limit = self._rules.max_spoken_chars
        match decision:
            case AskFollowUp(text=text) if context.follow_ups_left > 0 and text.strip():
                return AskFollowUp(text.strip()[:limit], decision.about_items)
            case AskFollowUp():
                log.warning("follow_up_refused", question_id=context.question.id, asked=context.follow_ups_asked)
                return NextQuestion()
            case EndInterview(reason=reason):
                # Only the plan, the time limits, silence and the candidate's own request end an interview;
                # on the last question ending is simply moving on to the closing line.
                if not context.is_last_question:
                    log.warning("end_refused", question_id=context.question.id, reason=reason)
                return NextQuestion()
            case NextQuestion(transition=transition):
                return NextQuestion(transition.strip()[:limit])
        raise AssertionError(f"unknown decision {decision!r}")

    async def _carry_out(self, decision: Decision, now: float, context: TurnContext) -> list[Action]:
        current = self._current
        assert current is not None
        if isinstance(decision, AskFollowUp):
            index = current.follow_ups_asked + 1
            current.turns.append(_Turn(index, decision.text))
            current.items_asked_about.extend(decision.about_items)
            self._follow_ups_asked += 1
            self._last_activity = now
            passage_ids = tuple(p.id for p in context.passages)
            return [Say(decision.text, SayKind.follow_up, now, current.question.id, index, passage_ids)]
        assert isinstance(decision, NextQuestion)
        return await self._next(now, decision.transition)

    # --- helpers -------------------------------------------------------------------------------

    async def _search(self, query: str) -> tuple[Passage, ...]:
        try:
            return tuple(await self._passages.search(query[:2000], self._rules.passages_per_search))
        except Exception as exc:  # grounding is best effort: a failed search must not stop the interview
            log.warning("kb_search_failed", error=repr(exc))
            return ()

    def _covered(self, progress: _QuestionInProgress) -> CoveredQuestion:
        covered, _ = coverage(progress.question.follow_up.expected_items, progress.answers)
        return CoveredQuestion(progress.question, joined(*progress.answers), tuple(covered))

    def _rebuild(self, transcript: Sequence[PastSegment]) -> int:
        """Restore what was asked and answered; return the index of the next unanswered question."""
        index_of = {q.id: i for i, q in enumerate(self._plan.questions)}
        answers: dict[str, list[str]] = {}
        follow_ups: set[tuple[str, int]] = set()
        last_asked = -1
        for segment in transcript:
            question_id = segment.question_id
            if question_id is None or question_id not in index_of:
                continue
            if segment.speaker == "bot":
                self._asked_ids.add(question_id)
                last_asked = max(last_asked, index_of[question_id])
                if segment.follow_up_index:
                    follow_ups.add((question_id, segment.follow_up_index))
            else:
                answers.setdefault(question_id, []).append(segment.text)
        self._follow_ups_asked = len(follow_ups)
        for question_id, said in sorted(answers.items(), key=lambda kv: index_of[kv[0]]):
            question = self._plan.questions[index_of[question_id]]
            turn = _Turn(0, question.text, joined(*said))
            self._earlier.append(_QuestionInProgress(question, index_of[question_id] + 1, 0.0, [turn]))
        if last_asked < 0:
            return 0
        return last_asked + 1 if self._plan.questions[last_asked].id in answers else last_asked


def _distinct(passages: tuple[Passage, ...]) -> tuple[Passage, ...]:
    by_id: dict[str, Passage] = {}
    for passage in passages:
        by_id.setdefault(passage.id, passage)
    return tuple(by_id.values())
