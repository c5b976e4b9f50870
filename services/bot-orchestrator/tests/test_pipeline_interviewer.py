"""The interviewer processor in a Pipecat pipeline (run_test: frames in, no network, no models).

A fake speaker stands where TTS and the output transport would be: it "plays" each TTSSpeakFrame
at once, reporting BotStarted/StoppedSpeakingFrame upstream like the output transport does.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    ClientConnectedFrame,
    DataFrame,
    EndWorkerFrame,
    Frame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMContextUserTurnFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from bot_orchestrator.engine import EndReason, InterviewEngine, Lines, ScriptedInterviewer
from bot_orchestrator.worker.interviewer import InterviewerProcessor
from voice_shared.api.configs import InterviewDefinition
from voice_shared.contracts import AnswerReceived, Event, QuestionAsked, TranscriptSegment

LINES = Lines()
GREETING = "Hello, I'm Ada. Thanks for joining."
INTRO = "Tell me about a system you built recently."
MOTIVATION = "Why do you want this role?"
ANSWER = "I built a payments platform in Python with my team of six engineers over two years."
SECONDS_PER_WORD = 0.3


def definition(**changes: Any) -> InterviewDefinition:
    plan: dict[str, Any] = {
        "botName": "Ada", "persona": "You are Ada.", "greeting": GREETING, "idleTimeoutSeconds": 20,
        "questions": [
            {"id": "intro", "text": INTRO, "followUp": {"enabled": False}},
            {"id": "motivation", "text": MOTIVATION, "followUp": {"enabled": False}},
        ],
        "rubric": {"criteria": [{"id": "communication", "name": "Communication", "weight": 1}]},
    }
    return InterviewDefinition.model_validate(plan | changes)


class Clock:
    """Monotonic time that moves only when told (or, with ``speed``, that much faster than real time)."""

    def __init__(self, speed: float = 0.0) -> None:
        self.now = 1000.0
        self._speed = speed
        self._real = time.monotonic()

    def __call__(self) -> float:
        if self._speed:
            return self.now + (time.monotonic() - self._real) * self._speed
        return self.now


class FakeSpeaker(FrameProcessor):
    """Plays each TTSSpeakFrame at once: 0.3 s of (fake) time per word, reported upstream."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, TTSSpeakFrame):
            # Real pauses around each report, so the interviewer reads the clock when it hears of it.
            await self.push_frame(BotStartedSpeakingFrame(), FrameDirection.UPSTREAM)
            await asyncio.sleep(0.01)
            self._clock.now += SECONDS_PER_WORD * len(frame.text.split())
            await self.push_frame(BotStoppedSpeakingFrame(), FrameDirection.UPSTREAM)
            await asyncio.sleep(0.01)


class Events:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def interviewer(plan: InterviewDefinition, clock: Clock, tick_seconds: float = 0.05) -> tuple[
    InterviewerProcessor, Events, uuid.UUID
]:
    events, session_id = Events(), uuid.uuid4()
    engine = InterviewEngine(plan, ScriptedInterviewer())
    return InterviewerProcessor(engine, session_id, events, tick_seconds=tick_seconds, clock=clock), events, session_id


@dataclass
class CandidateTurn(DataFrame):
    """A turn for the fake user aggregator to report: ``text`` said over ``seconds``."""

    text: str = ""
    seconds: float = 4.0


class FakeUserAggregator(FrameProcessor):
    """Reports each CandidateTurn the way the user aggregator reports a finished turn."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, CandidateTurn):
            await self.push_frame(frame, direction)
            return
        await self.push_frame(UserStartedSpeakingFrame())
        await asyncio.sleep(0.01)
        self._clock.now += frame.seconds
        await self.push_frame(UserStoppedSpeakingFrame())
        await asyncio.sleep(0.01)
        await self.push_frame(LLMContextUserTurnFrame(text=frame.text, timestamp="2026-01-01T00:00:00Z"))


def candidate_turn(text: str) -> list[Frame]:
    return [CandidateTurn(text=text), SleepFrame(0.3)]


def pipeline(processor: InterviewerProcessor, clock: Clock) -> Pipeline:
    return Pipeline([FakeUserAggregator(clock), processor, FakeSpeaker(clock)])


def spoken(frames: list[Frame]) -> list[str]:
    return [f.text for f in frames if isinstance(f, TTSSpeakFrame)]


async def test_walks_the_plan_speaks_each_step_and_reports_it_in_order() -> None:
    clock = Clock()
    processor, events, session_id = interviewer(definition(), clock)

    down, _ = await run_test(
        pipeline(processor, clock),
        frames_to_send=[ClientConnectedFrame(), SleepFrame(0.1), *candidate_turn(ANSWER),
                        *candidate_turn("Because I like building reliable systems for people.")],
    )

    thanks_next = f"{LINES.thanks} {LINES.last_question.format(question=MOTIVATION)}"
    closing = f"{LINES.thanks} {LINES.closing}"
    assert spoken(list(down)) == [GREETING, f"Let's begin. {INTRO}", thanks_next, closing]
    assert any(isinstance(f, EndWorkerFrame) for f in down)  # the interview ends the pipeline itself
    assert processor.outcome is not None and processor.outcome.reason == EndReason.plan_complete
    assert processor.outcome.questions_asked == 2 and processor.answers == 2

    segments = events.of(TranscriptSegment)
    assert [s.sequence for s in segments] == list(range(len(segments)))
    assert [(s.speaker, s.kind, s.question_id) for s in segments] == [
        ("bot", "greeting", None), ("bot", "question", "intro"), ("candidate", "answer", "intro"),
        ("bot", "question", "motivation"), ("candidate", "answer", "motivation"), ("bot", "closing", "motivation"),
    ]
    assert all(s.session_id == session_id and s.final for s in segments)
    greeting, first = segments[0], segments[1]
    assert (greeting.start_ms, greeting.end_ms) == (0, round(SECONDS_PER_WORD * len(GREETING.split()) * 1000))
    assert first.start_ms == greeting.end_ms and first.follow_up_index == 0
    answer = segments[2]
    assert answer.text == ANSWER and answer.end_ms - answer.start_ms == 4000
    assert all(a.end_ms <= b.start_ms for a, b in zip(segments, segments[1:], strict=False))

    asked = events.of(QuestionAsked)
    assert [(q.question_id, q.follow_up_index, q.asked_at_ms) for q in asked] == [
        ("intro", 0, first.start_ms), ("motivation", 0, segments[3].start_ms),
    ]
    received = events.of(AnswerReceived)
    assert [(a.question_id, a.word_count) for a in received] == [("intro", len(ANSWER.split())), ("motivation", 8)]
    assert received[0].started_at_ms == answer.start_ms and received[0].ended_at_ms == answer.end_ms
    # Events come in the order things happened: the question before its answer, the answer before the next.
    kinds = [type(e).__name__ for e in events.events]
    assert kinds.index("QuestionAsked") < kinds.index("AnswerReceived")


async def test_a_short_answer_gets_a_follow_up_numbered_after_the_question() -> None:
    clock = Clock()
    plan = definition(questions=[{"id": "intro", "text": INTRO, "followUp": {"maxFollowUps": 1}}])
    processor, events, _ = interviewer(plan, clock)

    down, _ = await run_test(
        pipeline(processor, clock),
        frames_to_send=[ClientConnectedFrame(), SleepFrame(0.1), *candidate_turn("A website.")],
    )

    assert spoken(list(down))[-1] == LINES.follow_up_on_short_answer
    asked = events.of(QuestionAsked)
    assert [(q.question_id, q.follow_up_index) for q in asked] == [("intro", 0), ("intro", 1)]
    bot = [s for s in events.of(TranscriptSegment) if s.speaker == "bot"]
    assert (bot[-1].kind, bot[-1].follow_up_index) == ("follow_up", 1)
    assert processor.outcome is None  # still waiting for the answer when the test's EndFrame came


async def test_silence_prompts_once_then_ends_the_interview() -> None:
    clock = Clock(speed=40.0)  # 5 s of interview time in 0.125 s
    processor, events, _ = interviewer(definition(idleTimeoutSeconds=5), clock, tick_seconds=0.02)

    down, _ = await run_test(
        pipeline(processor, clock),
        frames_to_send=[ClientConnectedFrame(), SleepFrame(1.0)],
    )

    assert spoken(list(down))[2:] == [LINES.idle_prompt, LINES.idle_goodbye]
    assert processor.outcome is not None and processor.outcome.reason == EndReason.idle_timeout
    kinds = [s.kind for s in events.of(TranscriptSegment)]
    assert kinds == ["greeting", "question", "idle_prompt", "closing"]


async def test_the_candidate_asking_to_stop_ends_it_politely() -> None:
    clock = Clock()
    processor, events, _ = interviewer(definition(), clock)

    down, _ = await run_test(
        pipeline(processor, clock),
        frames_to_send=[ClientConnectedFrame(), SleepFrame(0.1),
                        *candidate_turn("Sorry, I'd like to stop the interview now.")],
    )

    assert spoken(list(down))[-1] == LINES.stop_goodbye
    assert processor.outcome is not None and processor.outcome.reason == EndReason.candidate_requested_stop
    assert events.of(AnswerReceived) == []  # a request to stop is not an answer


async def test_llm_requests_stop_here_and_nothing_is_said_before_the_candidate_connects() -> None:
    clock = Clock()
    processor, events, _ = interviewer(definition(), clock)

    down, _ = await run_test(processor, frames_to_send=[LLMContextFrame(context=LLMContext()), SleepFrame(0.1)])

    assert not any(isinstance(f, (LLMContextFrame, TTSSpeakFrame)) for f in down)
    assert events.events == [] and not processor.started


async def test_a_turn_without_words_does_not_leave_the_candidate_talking_forever() -> None:
    clock = Clock(speed=40.0)
    processor, events, _ = interviewer(definition(idleTimeoutSeconds=5), clock, tick_seconds=0.02)

    down, _ = await run_test(
        pipeline(processor, clock),
        frames_to_send=[ClientConnectedFrame(), SleepFrame(0.05), UserStartedSpeakingFrame(), SleepFrame(0.05),
                        UserStoppedSpeakingFrame(), SleepFrame(1.5)],  # a cough: no transcript follows
    )

    # Silence is counted again after the wordless turn: the idle prompt, then the goodbye.
    assert spoken(list(down))[2:] == [LINES.idle_prompt, LINES.idle_goodbye]
    assert [s.speaker for s in events.of(TranscriptSegment)].count("candidate") == 0


async def test_an_answer_with_short_pauses_is_one_answer() -> None:
    clock = Clock()
    events, session_id = Events(), uuid.uuid4()
    engine = InterviewEngine(definition(), ScriptedInterviewer())
    processor = InterviewerProcessor(engine, session_id, events, tick_seconds=0.05, clock=clock,
                                     answer_pause_seconds=0.4)
    first, second = "I built a payments platform in Python.", "It moved money for two million people."
    late = "Because I like building reliable systems for people."

    down, _ = await run_test(
        pipeline(processor, clock),
        frames_to_send=[
            ClientConnectedFrame(), SleepFrame(0.1),
            CandidateTurn(text=first), SleepFrame(0.15),  # a pause between sentences: the answer goes on
            CandidateTurn(text=second), SleepFrame(0.8),  # silence longer than the answer pause: it is over
            CandidateTurn(text=late), SleepFrame(0.8),
        ],
    )

    # One transition to the next question: the pause did not end the first answer.
    thanks_next = f"{LINES.thanks} {LINES.last_question.format(question=MOTIVATION)}"
    assert spoken(list(down)) == [GREETING, f"Let's begin. {INTRO}", thanks_next, f"{LINES.thanks} {LINES.closing}"]
    # Each turn is on the transcript as it was heard; the engine heard the answers whole.
    candidate = [(s.text, s.question_id) for s in events.of(TranscriptSegment) if s.speaker == "candidate"]
    assert candidate == [(first, "intro"), (second, "intro"), (late, "motivation")]
    received = events.of(AnswerReceived)
    assert [(a.question_id, a.word_count) for a in received] == [
        ("intro", len(f"{first} {second}".split())), ("motivation", len(late.split())),
    ]
    assert received[0].ended_at_ms - received[0].started_at_ms == 8000  # both turns of 4 s, no time between


def heard(seconds: float) -> list[Frame]:
    """Input audio (silence) in 20 ms frames, paced in real time as a transport delivers it.

    Audio frames are system frames: they overtake queued data frames, hence the SleepFrames before them.
    """
    frames: list[Frame] = []
    for i in range(round(seconds * 50)):
        frames.append(InputAudioRawFrame(bytes(16_000 // 50 * 2), 16_000, 1))
        if i % 5 == 4:
            frames.append(SleepFrame(0.1))
    return frames


async def test_the_answer_pause_is_counted_in_audio_heard_not_in_wall_time() -> None:
    clock = Clock()  # still, after the turns: only the audio says how long the candidate has been quiet
    events, session_id = Events(), uuid.uuid4()
    engine = InterviewEngine(definition(), ScriptedInterviewer())
    processor = InterviewerProcessor(engine, session_id, events, tick_seconds=0.05, clock=clock,
                                     answer_pause_seconds=1.0)
    first, second = "I built a payments platform in Python.", "It moved money for two million people."

    down, _ = await run_test(
        pipeline(processor, clock),
        frames_to_send=[
            ClientConnectedFrame(), SleepFrame(0.1),
            CandidateTurn(text=first), SleepFrame(0.1), *heard(0.6),
            SleepFrame(1.5),  # a pipeline running late: time passes, no audio is heard
            CandidateTurn(text=second), SleepFrame(0.1), *heard(1.2), SleepFrame(0.5),
        ],
    )

    thanks_next = f"{LINES.thanks} {LINES.last_question.format(question=MOTIVATION)}"
    assert spoken(list(down)) == [GREETING, f"Let's begin. {INTRO}", thanks_next]
    received = events.of(AnswerReceived)
    assert [(a.question_id, a.word_count) for a in received] == [("intro", len(f"{first} {second}".split()))]


async def test_the_answer_pause_counts_from_when_the_voice_stopped_not_from_when_its_words_arrived() -> None:
    clock = Clock()  # still: the turns take no time of their own here, the audio does
    events, session_id = Events(), uuid.uuid4()
    engine = InterviewEngine(definition(), ScriptedInterviewer())
    processor = InterviewerProcessor(engine, session_id, events, tick_seconds=0.05, clock=clock,
                                     answer_pause_seconds=1.0)
    first, second = "I built a payments platform in Python.", "It moved money for two million people."

    down, _ = await run_test(
        pipeline(processor, clock),
        frames_to_send=[
            ClientConnectedFrame(), SleepFrame(0.1), VADUserStartedSpeakingFrame(start_secs=0.2),
            *heard(0.5), VADUserStoppedSpeakingFrame(stop_secs=0.2),
            # Transcription takes a while, and the voice's words may come as two turns, the second
            # with no VAD stop of its own.
            *heard(0.3), CandidateTurn(text=first, seconds=0), SleepFrame(0.1),
            *heard(0.3), CandidateTurn(text=second, seconds=0), SleepFrame(0.1),
            *heard(0.4),  # 1.2 s of silence since the voice stopped: the answer is over
            SleepFrame(0.3),
        ],
    )

    thanks_next = f"{LINES.thanks} {LINES.last_question.format(question=MOTIVATION)}"
    assert spoken(list(down))[-1] == thanks_next
    received = events.of(AnswerReceived)
    assert [(a.question_id, a.word_count) for a in received] == [("intro", len(f"{first} {second}".split()))]
