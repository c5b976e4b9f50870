"""The interview engine inside a Pipecat pipeline, where an LLM service would otherwise sit.

Frames in: ``ClientConnectedFrame`` starts the interview, ``UserStarted/StoppedSpeakingFrame`` time
the candidate's turn, ``LLMContextUserTurnFrame`` (the user aggregator's finished turn) is what they
said, and ``BotStarted/StoppedSpeakingFrame`` coming back upstream from the output transport say when
the bot's speech really played. Frames out: a ``TTSSpeakFrame`` per ``Say``, and an
``EndWorkerFrame`` after the last one, which ends the pipeline once everything before it has played.
Every second (while the bot is silent) the engine's ``tick`` enforces time limits and silence.

The answer's pause: end-of-turn detection ends a turn at a sentence's pause, but people answering an
interview question pause between sentences. With ``answer_pause_seconds`` the engine hears the answer
only once the candidate has been silent that long since their voice stopped; a candidate who speaks
again within it goes on with the same answer (the turns are merged). Transcription runs during the
pause, so it costs less than it says: the turn's text already arrives some time after the voice stops.

Events go to a sink as they happen: ``QuestionAsked`` when a question starts playing,
``TranscriptSegment`` for each bot utterance once it has played and for each candidate turn,
``AnswerReceived`` for each recorded answer. Times are milliseconds from the moment the candidate
connected (the session's start, as far as the bot can tell).
"""

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol
from uuid import UUID

import structlog
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    ClientConnectedFrame,
    EndFrame,
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
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot_orchestrator.engine import Action, End, InterviewEngine, PastSegment, RecordAnswer, Say, SayKind
from voice_shared.contracts import AnswerReceived, Event, QuestionAsked, TranscriptSegment

log = structlog.get_logger()

ASKING = (SayKind.question, SayKind.follow_up)
# A turn that ended without words (a cough, a word Whisper dropped) sends no text: after this long the
# engine hears an empty turn, so it stops treating the candidate as talking.
WORDLESS_TURN_SECONDS = 2.0
AUDIO_STALL_SECONDS = 0.5  # no input audio for this long: the answer's pause is counted by the clock


class InterviewSink(Protocol):
    """Where the interviewer's events go (the job publishes them in order)."""

    def emit(self, event: Event) -> None: ...


@dataclass
class _Answer:
    """Turns of the candidate's answer that the engine has not heard yet."""

    texts: list[str]
    started: float
    ended: float
    ended_heard: float | None  # the input audio's clock when the voice stopped (None: no audio seen)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())


@dataclass
class _Utterance:
    say: Say
    started: float | None = None


@dataclass(frozen=True)
class Rejoin:
    """The candidate connects again after their connection dropped: go on from what was said so far."""

    transcript: Sequence[PastSegment]
    started_at: float  # when the interview began (the clock's time): its times go on from there
    next_sequence: int  # of the session's transcript segments


class InterviewerProcessor(FrameProcessor):
    """Feeds finished candidate turns and the clock into the engine; speaks and reports its actions."""

    def __init__(
        self,
        engine: InterviewEngine,
        session_id: UUID,
        sink: InterviewSink,
        *,
        tick_seconds: float = 1.0,
        answer_pause_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        rejoin: Rejoin | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]  # FrameProcessor's own keyword arguments
        self._engine = engine
        self._session_id = session_id
        self._sink = sink
        self._tick_seconds = tick_seconds
        self._pause = answer_pause_seconds
        self._clock = clock
        self._lock = asyncio.Lock()
        self._t0: float | None = None
        self._speaking: deque[_Utterance] = deque()  # sent to TTS, not yet finished playing
        self._user_started: float | None = None  # the turn, as the aggregator decided it
        self._user_stopped: float | None = None
        self._voice_started: float | None = None  # the voice in it, as the VAD heard it
        self._voice_stopped: float | None = None
        # The input audio's own clock: seconds of audio heard, and when the last of it arrived. The
        # answer's pause is counted in audio, so a pipeline running late does not cut an answer short.
        self._heard = 0.0
        self._heard_at: float | None = None
        self._voice_stopped_heard: float | None = None  # when the VAD last heard the voice stop
        self._voice_active = False  # the VAD hears the candidate's voice now
        self._ticker: asyncio.Task[None] | None = None
        self._answer: _Answer | None = None  # heard, not yet given to the engine (the pause is not over)
        self._answer_waiter: asyncio.Task[None] | None = None
        self._turn_changed = asyncio.Event()  # the candidate started or finished a turn
        self._rejoin = rejoin
        self._sequence = rejoin.next_sequence if rejoin else 0
        self.outcome: End | None = None
        self.answers = 0

    @property
    def started(self) -> bool:
        return self._t0 is not None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            return  # the aggregator's request for an LLM reply: the engine has already answered
        if isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop()
        await self.push_frame(frame, direction)
        if isinstance(frame, ClientConnectedFrame):
            await self._begin()
        elif isinstance(frame, InputAudioRawFrame):
            self._heard += len(frame.audio) / (2 * frame.sample_rate * frame.num_channels)
            self._heard_at = self._clock()
            if self._answer_waiter is not None:
                self._turn_changed.set()  # the pause is counted in audio: look again
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._voice_active = True
            self._turn_changed.set()
            if self._voice_started is None:  # the first speech of the turn; the VAD needed start_secs of it
                self._voice_started = self._clock() - frame.start_secs - _lag(frame.timestamp)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._voice_stopped = self._clock() - frame.stop_secs - _lag(frame.timestamp)
            self._voice_stopped_heard = max(0.0, self._heard - frame.stop_secs)
            self._voice_active = False
            if self._answer is not None:  # the answer's last words came before its voice stopped
                self._answer.ended_heard = self._voice_stopped_heard
            self._turn_changed.set()
        elif isinstance(frame, UserStartedSpeakingFrame):
            self._user_started, self._user_stopped = self._clock(), None
            self._engine.candidate_started_speaking(self._user_started)
            self._turn_changed.set()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._user_stopped = self._clock()
        elif isinstance(frame, LLMContextUserTurnFrame):
            await self._turn_ended(frame.text)
        elif isinstance(frame, BotStartedSpeakingFrame) and direction == FrameDirection.UPSTREAM:
            self._playing_started()
        elif isinstance(frame, BotStoppedSpeakingFrame) and direction == FrameDirection.UPSTREAM:
            self._playing_stopped()

    # --- engine events ---------------------------------------------------------------------------

    async def _begin(self) -> None:
        if self._t0 is not None:
            return
        now = self._clock()
        async with self._lock:
            if self._rejoin is None:
                self._t0 = now
                actions = await self._engine.started(now)
            else:  # "sorry, we lost the connection", then the question that was not answered yet
                self._t0 = self._rejoin.started_at
                actions = await self._engine.resumed(now, self._rejoin.transcript, now - self._t0)
            await self._carry_out(actions)
        if self.outcome is None:
            self._ticker = self.create_task(self._tick_forever(), name="interview-ticker")

    async def _turn_ended(self, text: str) -> None:
        """A turn of the candidate's: on the transcript at once; to the engine once the answer is over."""
        text = " ".join(text.split())
        now = self._clock()
        started = _first(self._voice_started, self._user_started, now)
        ended = max(started, _first(self._voice_stopped, self._user_stopped, now))
        # The pause is counted from the voice's stop, which the VAD may have heard before this turn's
        # text arrived; a turn that ends while the voice goes on counts from the VAD's next stop.
        stopped_heard = self._heard_now() if self._voice_active else self._voice_stopped_heard
        self._user_started = self._user_stopped = self._voice_started = self._voice_stopped = None
        if text:
            async with self._lock:
                self._segment("candidate", text, started, ended, self._engine.current_question_id,
                              self._engine.current_follow_up_index, "answer")
        if self._answer is None:
            self._answer = _Answer([text], started, ended, stopped_heard)
        else:
            self._answer.texts.append(text)
            self._answer.ended = max(self._answer.ended, ended)
            self._answer.ended_heard = stopped_heard
        self._turn_changed.set()
        if self._pause <= 0:
            await self._answer_now()
        elif self._answer_waiter is None:
            self._answer_waiter = self.create_task(self._answer_when_silent(), name="answer-pause")

    async def _answer_when_silent(self) -> None:
        """Waits until the candidate has been silent ``answer_pause_seconds``, then answers."""
        while self._answer is not None:
            self._turn_changed.clear()
            # In a turn: wait for it to end. Else: for the pause since the voice stopped, or a new turn.
            # The pause is counted in the audio heard since, while audio flows; else by the clock.
            wait: float | None = None
            heard = self._heard_now()
            in_turn = self._user_started is not None or (self._voice_active and heard is not None)
            if not in_turn:
                if heard is not None and self._answer.ended_heard is None:
                    self._answer.ended_heard = heard  # audio flows again: the pause is counted from here
                ended_heard = self._answer.ended_heard
                if heard is not None and ended_heard is not None:
                    wait = self._pause - (heard - ended_heard)
                else:
                    wait = self._answer.ended + self._pause - self._clock()
                if wait <= 0:
                    break
            try:
                await asyncio.wait_for(self._turn_changed.wait(), wait)
            except TimeoutError:
                if heard is None:
                    break
        self._answer_waiter = None
        await self._answer_now()

    def _heard_now(self) -> float | None:
        """Seconds of input audio heard so far; None if audio does not flow (no transport, line gone)."""
        if self._heard_at is None or self._clock() - self._heard_at > AUDIO_STALL_SECONDS:
            return None
        return self._heard

    async def _answer_now(self) -> None:
        answer, self._answer = self._answer, None
        if answer is None:
            return
        async with self._lock:
            if self.outcome is None:
                await self._carry_out(await self._engine.candidate_said(answer.text, answer.started, answer.ended))

    async def _tick_forever(self) -> None:
        while self.outcome is None:
            await asyncio.sleep(self._tick_seconds)
            stopped = self._user_stopped
            if self._user_started is not None and stopped is not None \
                    and self._clock() - stopped > WORDLESS_TURN_SECONDS:
                await self._turn_ended("")
            async with self._lock:
                # While the bot talks nobody is silent, and the next step waits for it to finish.
                if self.outcome is None and not self._speaking:
                    await self._carry_out(await self._engine.tick(self._clock()))

    async def _carry_out(self, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, Say):
                self._speaking.append(_Utterance(action))
                speak = TTSSpeakFrame(action.text)
                # The plan's questions must be heard whole: a candidate who talks over the bot is
                # transcribed, but does not cut the question off.
                speak.interruptible = False
                await self.push_frame(speak)
            elif isinstance(action, RecordAnswer):
                self.answers += 1
                self._sink.emit(AnswerReceived(
                    session_id=self._session_id, question_id=action.question_id,
                    follow_up_index=action.follow_up_index, started_at_ms=self._ms(action.started_at),
                    ended_at_ms=self._ms(action.ended_at), word_count=action.word_count,
                ))
            elif isinstance(action, End):
                self.outcome = action
                log.info("interview_over", reason=str(action.reason), questions_asked=action.questions_asked,
                         follow_ups_asked=action.follow_ups_asked, answers=self.answers)
                # Behind the last words: the pipeline ends once they have played.
                await self.push_frame(EndWorkerFrame(reason=str(action.reason)))

    # --- the bot's speech, as it plays --------------------------------------------------------------

    def _playing_started(self) -> None:
        current = next((u for u in self._speaking if u.started is None), None)
        if current is None:
            return
        current.started = now = self._clock()
        say = current.say
        if say.kind in ASKING and say.question_id is not None:
            self._sink.emit(QuestionAsked(
                session_id=self._session_id, question_id=say.question_id,
                follow_up_index=say.follow_up_index or 0, text=say.text, asked_at_ms=self._ms(now),
                kb_passages=list(say.passage_ids),
            ))

    def _playing_stopped(self) -> None:
        if not self._speaking or self._speaking[0].started is None:
            return
        done = self._speaking.popleft()
        now = self._clock()
        self._bot_segment(done, now)
        self._engine.bot_stopped_speaking(now)

    async def _stop(self) -> None:
        """The pipeline ends: stop the clock; what was playing is on record up to now."""
        for task in (self._ticker, self._answer_waiter):
            if task is not None:
                await self.cancel_task(task)
        self._ticker = self._answer_waiter = None
        now = self._clock()
        for utterance in self._speaking:
            if utterance.started is not None:
                self._bot_segment(utterance, now)
        self._speaking.clear()

    # --- events ------------------------------------------------------------------------------------

    def _bot_segment(self, utterance: _Utterance, ended: float) -> None:
        say = utterance.say
        started = utterance.started if utterance.started is not None else ended
        self._segment("bot", say.text, started, ended, say.question_id, say.follow_up_index, str(say.kind))

    def _segment(
        self, speaker: Literal["bot", "candidate"], text: str, started: float, ended: float,
        question_id: str | None, follow_up_index: int | None, kind: str,
    ) -> None:
        self._sink.emit(TranscriptSegment(
            session_id=self._session_id, sequence=self._sequence, speaker=speaker, text=text,
            start_ms=self._ms(started), end_ms=max(self._ms(started), self._ms(ended)),
            question_id=question_id, follow_up_index=follow_up_index if question_id else None, kind=kind,
        ))
        self._sequence += 1

    def _ms(self, at: float) -> int:
        t0 = self._t0 if self._t0 is not None else at
        return max(0, round((at - t0) * 1000))


def _lag(timestamp: float) -> float:
    """How long ago a frame's wall-clock ``timestamp`` was (its decision may have waited in a queue)."""
    return max(0.0, time.time() - timestamp)


def _first(*times: float | None) -> float:
    return next(t for t in times if t is not None)
