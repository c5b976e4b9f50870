"""The simulated candidate in the room: a WebRTC peer on 127.0.0.1 that listens and answers.

The peer behaves like the join page's browser: one send-receive audio transceiver (its
microphone), a data channel that pings every second, the offer POSTed with ICE candidates inside.
The interviewer's audio is cut into utterances by an energy detector (the bot speaks synthetic
speech over silence, so energy is enough), each utterance is transcribed with Whisper, and
``TurnTaker`` decides from the words heard whether a question waits for an answer. Answers are
spoken with Piper into the microphone track in real time.
"""

import asyncio
import contextlib
import fractions
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import structlog

from voice_cli.simulate.personas import Persona
from voice_cli.simulate.speech import LISTEN_RATE, SEND_RATE, Ears, Voice
from voice_shared.api.configs import Question
from voice_shared.matching import stem, words

log = structlog.get_logger()

FRAME_SECONDS = 0.02


# --- loopback only ----------------------------------------------------------------------------


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """ICE host candidates on 127.0.0.1 only, so no packet leaves the machine (see OFFLINE.md).

    aioice leaves 127.0.0.1 out of its host candidates; replacing its address lookup is the
    checked way to keep a local call on the loopback interface.
    """
    import aioice.ice

    original = aioice.ice.get_host_addresses

    def loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return ["127.0.0.1"]

    aioice.ice.get_host_addresses = loopback
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


# --- hearing: speech detection and turn taking (pure) --------------------------------------------


@dataclass(frozen=True)
class SpeechStarted:
    at: float


@dataclass(frozen=True)
class Utterance:
    audio: np.ndarray  # float32 mono at LISTEN_RATE
    started_at: float
    ended_at: float


class SpeechDetector:
    """Cuts a stream of 16 kHz samples into utterances by energy (RMS per 20 ms window).

    An utterance starts after ``min_speech_seconds`` of voiced windows and ends after
    ``end_silence_seconds`` without one; it keeps ``pre_roll_seconds`` of audio before its start.
    """

    def __init__(self, threshold: float = 0.01, min_speech_seconds: float = 0.06,
                 end_silence_seconds: float = 0.7, pre_roll_seconds: float = 0.2,
                 max_utterance_seconds: float = 90.0) -> None:
        self.window = int(LISTEN_RATE * FRAME_SECONDS)
        self.threshold = threshold
        self.min_voiced = max(1, round(min_speech_seconds / FRAME_SECONDS))
        self.end_silent = max(1, round(end_silence_seconds / FRAME_SECONDS))
        self.max_windows = round(max_utterance_seconds / FRAME_SECONDS)
        self._pre_roll: deque[np.ndarray] = deque(maxlen=max(1, round(pre_roll_seconds / FRAME_SECONDS)))
        self._pending = np.zeros(0, dtype=np.float32)
        self._windows: list[np.ndarray] = []
        self._voiced_run = 0
        self._silent_run = 0
        self._started_at: float | None = None
        self._last_voiced_at = 0.0

    @property
    def in_speech(self) -> bool:
        return self._started_at is not None

    def feed(self, samples: np.ndarray, at: float) -> list[SpeechStarted | Utterance]:
        """Samples that arrived at monotonic time ``at`` (the time of their last sample)."""
        audio = np.concatenate([self._pending, samples.astype(np.float32)])
        count = len(audio) // self.window
        self._pending = audio[count * self.window:]
        events: list[SpeechStarted | Utterance] = []
        for i in range(count):
            window = audio[i * self.window:(i + 1) * self.window]
            window_end = at - (len(audio) - (i + 1) * self.window) / LISTEN_RATE
            events += self._window(window, window_end)
        return events

    def _window(self, window: np.ndarray, end: float) -> list[SpeechStarted | Utterance]:
        voiced = float(np.sqrt(np.mean(window * window))) >= self.threshold
        if self._started_at is None:
            self._pre_roll.append(window)
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run < self.min_voiced:
                return []
            self._started_at = end - self._voiced_run * FRAME_SECONDS
            self._windows = list(self._pre_roll)
            self._silent_run, self._last_voiced_at = 0, end
            return [SpeechStarted(self._started_at)]
        self._windows.append(window)
        if voiced:
            self._silent_run, self._last_voiced_at = 0, end
        else:
            self._silent_run += 1
        if self._silent_run < self.end_silent and len(self._windows) < self.max_windows:
            return []
        utterance = Utterance(np.concatenate(self._windows), self._started_at, self._last_voiced_at)
        self._started_at, self._windows, self._voiced_run = None, [], 0
        self._pre_roll.clear()
        return [utterance]


# Words that say nothing about which question was asked ("Could you tell me about ...").
_GENERIC = frozenset(
    "a an the of and or to in on for with by at from as is are be how what your you my our their me tell "
    "about could would can do did it that this i next question let's lets begin and last also please "
    "so now thank thanks".split()
)
_CLOSING = re.compile(r"\bgood\s*-?\s*bye\b|\bend the interview\b|\bstop here\b|\bwill be in touch\b")
_ASKING = re.compile(
    r"\?\s*$|^(?:could|can|would|will|what|how|why|when|where|which|who|do|did|are|is|tell|describe|explain)\b"
)

Kind = Literal["question", "follow_up", "prompt", "closing", "statement"]


@dataclass(frozen=True)
class Decision:
    """What the candidate makes of what the interviewer said since the candidate last spoke."""

    kind: Kind
    question: Question | None = None
    reply: str | None = None
    delay: float = 0.0  # seconds of the interviewer's silence to wait before replying


def _key_stems(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in _GENERIC}


def question_match(heard: str, question: Question) -> float:
    """The share of the question's telling words that were heard (0..1)."""
    wanted = _key_stems(question.text)
    return len(wanted & _key_stems(heard)) / len(wanted) if wanted else 0.0


@dataclass
class TurnTaker:
    """Decides, from the interviewer's words, when the candidate answers and what the persona says.

    Plan questions are recognised by their words (Whisper's transcript is close, not exact). A new
    plan question is answered after a short pause; anything else asked (a follow-up, "are you still
    there?") after a longer one, so an interviewer still speaking is not interrupted.
    """

    persona: Persona
    plan: Sequence[Question]
    reaction_seconds: float = 0.5
    patience_seconds: float = 1.2
    opening_patience_seconds: float = 3.0  # before the first question: greetings often end with "?"
    new_question_share: float = 0.6
    repeated_question_share: float = 0.75
    asked: list[str] = field(default_factory=list)  # plan question ids, in the order heard
    replies: int = 0
    ended: bool = False
    _current: Question | None = None
    _since_reply: list[str] = field(default_factory=list)

    @property
    def current(self) -> Question | None:
        return self._current

    def heard(self, text: str) -> Decision:
        """An utterance of the interviewer; decides on all it said since it last asked something.

        Statements ("Thank you.") wait for what follows them; once something is asked, the next
        utterance starts a new turn of the interviewer, whether or not the candidate replied.
        """
        if text.strip():
            self._since_reply.append(text.strip())
        said = " ".join(self._since_reply)
        if self.ended or not said:
            return Decision("statement")
        decision = self._decide(said, self._since_reply[-1].lower())
        if decision.kind != "statement":
            self._since_reply.clear()
        return decision

    def _decide(self, said: str, last: str) -> Decision:
        question = self._plan_question(said)
        if question is not None:
            if question.id not in self.asked:
                self.asked.append(question.id)
            self._current = question
            return Decision("question", question, self.persona.answer(question, self.replies),
                            self.reaction_seconds)
        if _CLOSING.search(said.lower()):
            self.ended = True
            return Decision("closing", self._current)
        if not _ASKING.search(last):
            return Decision("statement", self._current)
        if self._current is None:
            return Decision("prompt", None, self.persona.reply(self.replies), self.opening_patience_seconds)
        if re.search(r"\bstill there\b", last):
            return Decision("prompt", self._current, self.persona.reply(self.replies), self.patience_seconds)
        return Decision("follow_up", self._current,
                        self.persona.follow_up_answer(self._current, said, self.replies), self.patience_seconds)

    def replying(self) -> None:
        """The candidate starts to speak: what comes next is a new turn of the interviewer."""
        self.replies += 1
        self._since_reply.clear()

    def _plan_question(self, said: str) -> Question | None:
        best: tuple[float, int, Question] | None = None
        for index, question in enumerate(self.plan):
            share = question_match(said, question)
            needed = self.repeated_question_share if question.id in self.asked else self.new_question_share
            if share >= needed and (best is None or (share, -index) > best[:2]):
                best = (share, -index, question)
        return best[2] if best else None


# --- speaking ---------------------------------------------------------------------------------


class Mouth:
    """Speech waiting to be sent, 20 ms at a time; silence when there is none."""

    def __init__(self) -> None:
        self.samples_per_frame = int(SEND_RATE * FRAME_SECONDS)
        self._queue: deque[tuple[np.ndarray, asyncio.Future[float]]] = deque()
        self._offset = 0

    @property
    def speaking(self) -> bool:
        return bool(self._queue)

    def say(self, pcm: np.ndarray) -> "asyncio.Future[float]":
        """Queue ``pcm``; the future gives the monotonic time its last sample was sent."""
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._queue.append((pcm.astype(np.int16), done))
        return done

    def next_frame(self) -> np.ndarray:
        frame = np.zeros(self.samples_per_frame, dtype=np.int16)
        filled = 0
        while filled < len(frame) and self._queue:
            pcm, done = self._queue[0]
            take = min(len(frame) - filled, len(pcm) - self._offset)
            frame[filled:filled + take] = pcm[self._offset:self._offset + take]
            filled += take
            self._offset += take
            if self._offset >= len(pcm):
                self._queue.popleft()
                self._offset = 0
                if not done.done():
                    done.set_result(time.monotonic())
        return frame

    def hush(self) -> None:
        """Drop whatever is still queued (the call ended)."""
        while self._queue:
            _, done = self._queue.popleft()
            if not done.done():
                done.set_result(time.monotonic())
        self._offset = 0


def microphone(mouth: Mouth) -> Any:
    """A new audio track reading the mouth in real time (a track cannot outlive its connection)."""
    from aiortc import MediaStreamTrack
    from aiortc.mediastreams import MediaStreamError
    from av import AudioFrame

    class Microphone(MediaStreamTrack):  # type: ignore[misc]  # aiortc is untyped
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self._start: float | None = None
            self._sent = 0

        async def recv(self) -> AudioFrame:
            if self.readyState != "live":
                raise MediaStreamError
            samples = mouth.samples_per_frame
            if self._start is None:
                self._start = time.monotonic()
            else:
                self._sent += samples
                await asyncio.sleep(max(0.0, self._start + self._sent / SEND_RATE - time.monotonic()))
            frame = AudioFrame.from_ndarray(mouth.next_frame().reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = SEND_RATE
            frame.pts = self._sent
            frame.time_base = fractions.Fraction(1, SEND_RATE)
            return frame

    return Microphone()


# --- the call ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    sdp: str
    type: str
    pc_id: str | None = None


Offer = Callable[[str], Awaitable[Answer]]


class SessionOver(Exception):
    """The room cannot be joined (again): the session ended or was never joinable."""


@dataclass(frozen=True)
class Line:
    """One utterance of the conversation as the candidate experienced it."""

    speaker: Literal["interviewer", "candidate"]
    text: str
    start: float  # seconds since the candidate first connected
    end: float
    kind: str = ""  # how the candidate understood the interviewer: question, follow_up, ...
    question_id: str | None = None


@dataclass
class Timings:
    """What the candidate measured, in seconds."""

    connect: list[float] = field(default_factory=list)  # offer sent -> WebRTC connected
    first_speech_at: float | None = None  # monotonic time the interviewer was first heard
    voice_to_voice: list[float] = field(default_factory=list)  # candidate stopped -> interviewer started
    stt: list[float] = field(default_factory=list)  # transcribing each interviewer utterance
    tts: list[float] = field(default_factory=list)  # synthesizing each answer
    overlaps: int = 0  # the interviewer started while the candidate spoke
    reconnects: int = 0


class Candidate:
    """Joins the room, then listens and answers until told to stop or the session is over."""

    def __init__(self, turns: TurnTaker, voice: Voice, ears: Ears, *, lost_after_seconds: float = 3.0,
                 connect_timeout_seconds: float = 20.0) -> None:
        self.turns = turns
        self.voice = voice
        self.ears = ears
        self.lines: list[Line] = []
        self.timings = Timings()
        self.spoken: list[str] = []  # every answer, as sent
        self._lost_after = lost_after_seconds
        self._connect_timeout = connect_timeout_seconds
        self._mouth = Mouth()
        self._detector = SpeechDetector()
        self._events: asyncio.Queue[SpeechStarted | Utterance] = asyncio.Queue()
        self._pc: Any = None
        self._prepared: Any = None  # a peer connection with its offer, made before Start
        self._tasks: set[asyncio.Task[Any]] = set()
        self._epoch: float | None = None
        self._last_frame_at = 0.0

    # --- connection ---

    async def prepare(self) -> None:
        """The peer connection and its offer made ready ahead, as the join page makes them before Start."""
        self._prepared = await self._new_peer()

    async def connect(self, offer: Offer) -> None:
        """A peer connection (the prepared one, else a new one): offer (with every ICE candidate inside),
        answer, connected."""
        from aiortc import RTCSessionDescription

        pc, self._prepared = self._prepared or await self._new_peer(), None
        started = time.monotonic()
        answer = await offer(pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type=answer.type))
        deadline = time.monotonic() + self._connect_timeout
        while pc.connectionState != "connected":
            if pc.connectionState in ("failed", "closed") or time.monotonic() > deadline:
                raise ConnectionError(f"WebRTC connection {pc.connectionState} after the answer")
            await asyncio.sleep(0.02)
        self.timings.connect.append(time.monotonic() - started)
        self._epoch = self._epoch or started
        self._last_frame_at = time.monotonic()
        log.info("candidate_connected", seconds=round(self.timings.connect[-1], 3), pc_id=answer.pc_id)

    async def _new_peer(self) -> Any:
        """A fresh peer connection with its local offer (ICE gathered); the old one is closed."""
        from aiortc import RTCConfiguration, RTCPeerConnection

        await self._close_peer()
        self._detector = SpeechDetector()  # an utterance cut off by a lost connection is dropped
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pc = pc
        # Audio first: the bot reads the first transceiver as the candidate's microphone.
        pc.addTransceiver(microphone(self._mouth), direction="sendrecv")
        channel = pc.createDataChannel("chat", ordered=True)

        @channel.on("open")  # type: ignore[misc]
        def on_open() -> None:
            self._spawn(self._ping(channel))

        @pc.on("track")  # type: ignore[misc]
        def on_track(track: Any) -> None:
            if track.kind == "audio":
                self._spawn(self._listen(track, self._detector))

        await pc.setLocalDescription(await pc.createOffer())
        return pc

    async def _ping(self, channel: Any) -> None:
        # The bot's transport counts the peer as gone after 3 s without a ping (as the join page does).
        while channel.readyState == "open":
            channel.send(f"ping: {int(time.time() * 1000)}")
            await asyncio.sleep(1.0)

    async def _listen(self, track: Any, detector: SpeechDetector) -> None:
        from aiortc.mediastreams import MediaStreamError
        from av import AudioResampler

        resampler = AudioResampler(format="flt", layout="mono", rate=LISTEN_RATE)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            self._last_frame_at = now
            for resampled in resampler.resample(frame):
                for event in detector.feed(resampled.to_ndarray().reshape(-1), now):
                    self._events.put_nowait(event)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_peer(self) -> None:
        if self._pc is not None:
            pc, self._pc = self._pc, None
            await pc.close()

    async def close(self) -> None:
        self._mouth.hush()
        await self._close_peer()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _lost(self) -> bool:
        if self._pc is None:
            return True
        if self._pc.connectionState in ("failed", "closed"):
            return True
        return time.monotonic() - self._last_frame_at > self._lost_after

    # --- the conversation ---

    async def hear_first_speech(self, offer: Offer) -> float:
        """Connect and listen until the interviewer is first heard (the greeting); its monotonic time."""
        await self.connect(offer)
        while True:
            event = await self._events.get()
            if isinstance(event, SpeechStarted):
                self.timings.first_speech_at = event.at
                return event.at

    async def converse(self, offer: Offer, stop: asyncio.Event) -> None:
        """Connect, then listen and answer until ``stop`` is set or the room cannot be joined again.

        A connection that goes quiet (the bot died) is joined again with a new offer, which the
        gateway answers once another bot serves the session.
        """
        await self.connect(offer)
        pending: tuple[float, Decision] | None = None
        speaking: asyncio.Future[float] | None = None
        answered_at: float | None = None  # when the candidate last stopped speaking
        while not stop.is_set():
            if speaking is not None and speaking.done():
                answered_at = speaking.result() if not speaking.cancelled() else None
                speaking = None
            now = time.monotonic()
            if (pending is not None and speaking is None and now >= pending[0]
                    and not self._detector.in_speech):
                decision = pending[1]
                pending = None
                if decision.reply:
                    self.turns.replying()
                    speaking = asyncio.ensure_future(self._say(decision))
                    answered_at = None
            try:
                event = await asyncio.wait_for(self._events.get(), 0.05)
            except TimeoutError:
                if self._lost() and speaking is None:
                    if self.turns.ended:
                        await stop.wait()  # the interviewer said goodbye and left
                        break
                    pending = None
                    if not await self._rejoin(offer, stop):
                        break
                continue
            if isinstance(event, SpeechStarted):
                self.timings.first_speech_at = self.timings.first_speech_at or event.at
                pending = None
                if speaking is not None:
                    self.timings.overlaps += 1
                elif answered_at is not None and event.at >= answered_at:
                    self.timings.voice_to_voice.append(event.at - answered_at)
                    answered_at = None
                continue
            decision = await self._understand(event)
            if decision.reply:
                pending = (event.ended_at + decision.delay, decision)
        if speaking is not None:
            self._mouth.hush()
            await asyncio.gather(speaking, return_exceptions=True)

    async def _rejoin(self, offer: Offer, stop: asyncio.Event) -> bool:
        log.info("candidate_connection_lost")
        self.timings.reconnects += 1
        while not stop.is_set():
            try:
                await self.connect(offer)
                return True
            except SessionOver:
                return False
            except ConnectionError as e:
                log.info("candidate_reconnect_failed", error=str(e))
                await asyncio.sleep(1.0)
        return False

    async def _understand(self, utterance: Utterance) -> Decision:
        heard = await asyncio.to_thread(self.ears.transcribe, utterance.audio)
        self.timings.stt.append(heard.seconds)
        decision = self.turns.heard(heard.text)
        if heard.text:
            self.lines.append(Line("interviewer", heard.text, self._at(utterance.started_at),
                                   self._at(utterance.ended_at), decision.kind,
                                   decision.question.id if decision.question else None))
        log.info("interviewer_heard", text=heard.text, kind=decision.kind, stt_seconds=round(heard.seconds, 3))
        return decision

    async def _say(self, decision: Decision) -> float:
        assert decision.reply is not None
        pause = self.turns.persona.sentence_pause_seconds
        speech = await asyncio.to_thread(self.voice.synthesize, decision.reply, pause)
        self.timings.tts.append(speech.seconds)
        started = time.monotonic()
        ended = await self._mouth.say(speech.pcm) - speech.trailing_silence
        self.spoken.append(decision.reply)
        self.lines.append(Line("candidate", decision.reply, self._at(started), self._at(ended), decision.kind,
                               decision.question.id if decision.question else None))
        return ended

    def _at(self, moment: float) -> float:
        return moment - (self._epoch or moment)
