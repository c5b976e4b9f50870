"""The simulator's whole path but the bot: gateway, join page, consent, offer over the bus, WebRTC on
127.0.0.1, real speech both ways. The interviewer here is a small stand-in that does what the bot
worker does on the bus (serves the session's offers, reports joined and finished) and speaks a
fixed script with Piper, so the candidate's side is tested on its own."""

import asyncio
import time
import uuid
from typing import Any

import pytest

from voice_cli.simulate.candidate import Mouth, SpeechDetector, Utterance, microphone
from voice_cli.simulate.personas import load_persona
from voice_cli.simulate.run import EXAMPLE_CONFIG, dev_organisation, load_config, simulate, word_recovery
from voice_cli.simulate.speech import LISTEN_RATE, Ears, Voice
from voice_shared.bus import make_broker, publish_envelope, serve_negotiation
from voice_shared.contracts import BotFinished, BotJoined, Envelope, NegotiateWebRtc, WebRtcAnswered, envelope

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models() -> tuple[Voice, Ears]:
    return Voice(), Ears()


@pytest.fixture(scope="module")
async def bot_broker(base_settings, topology):  # type: ignore[no-untyped-def]
    broker = make_broker(base_settings)
    await broker.start()
    yield broker
    await broker.stop()


class ScriptedRoom:
    """Answers the session's offer, speaks each line after the candidate's reply, hears the replies."""

    def __init__(self, broker: Any, namespace: str, voice: Voice, ears: Ears, script: list[str]) -> None:
        self.broker, self.namespace, self.voice, self.ears, self.script = broker, namespace, voice, ears, script
        self.heard: list[str] = []
        self.offers = 0
        self._mouth = Mouth()
        self._replies: asyncio.Queue[Utterance] = asyncio.Queue()
        self._pcs: list[Any] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._subscriber: Any = None
        self._org: uuid.UUID | None = None

    def serve(self, session_id: uuid.UUID) -> None:
        self._tasks.append(asyncio.ensure_future(self._serve(session_id)))

    async def _serve(self, session_id: uuid.UUID) -> None:
        await asyncio.sleep(1.5)  # a bot that takes its time: the candidate's first offers are retried
        self._subscriber = serve_negotiation(self.broker, self.namespace, session_id, self._answer)
        await self._subscriber.start()

    async def _answer(self, offer: NegotiateWebRtc, request: Envelope) -> WebRtcAnswered:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        self.offers += 1
        self._org = request.org_id
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pcs.append(pc)

        @pc.on("track")  # type: ignore[misc]
        def on_track(track: Any) -> None:
            self._tasks.append(asyncio.ensure_future(self._listen(track)))

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "audio":
                transceiver.sender.replaceTrack(microphone(self._mouth))
                transceiver.direction = "sendrecv"
        await pc.setLocalDescription(await pc.createAnswer())
        self._tasks.append(asyncio.ensure_future(self._interview(pc, offer.session_id)))
        return WebRtcAnswered(session_id=offer.session_id, sdp=pc.localDescription.sdp, pc_id=f"pc-{self.offers}")

    async def _listen(self, track: Any) -> None:
        from av import AudioResampler

        detector = SpeechDetector(end_silence_seconds=1.0)
        resampler = AudioResampler(format="flt", layout="mono", rate=LISTEN_RATE)
        while True:
            try:
                frame = await track.recv()
            except Exception:  # the track ended with the call
                return
            for resampled in resampler.resample(frame):
                for event in detector.feed(resampled.to_ndarray().reshape(-1), time.monotonic()):
                    if isinstance(event, Utterance):
                        self._replies.put_nowait(event)

    async def _interview(self, pc: Any, session_id: uuid.UUID) -> None:
        connected = asyncio.Event()
        pc.on("connectionstatechange", lambda: connected.set() if pc.connectionState == "connected" else None)
        if pc.connectionState != "connected":
            await asyncio.wait_for(connected.wait(), 20)
        await self._publish(BotJoined(session_id=session_id, bot_id="scripted-room"), session_id)
        for number, line in enumerate(self.script):
            speech = await asyncio.to_thread(self.voice.synthesize, line)
            await self._mouth.say(speech.pcm)
            if number < len(self.script) - 1:
                reply = await self._replies.get()
                self.heard.append((await asyncio.to_thread(self.ears.transcribe, reply.audio)).text)
        await asyncio.sleep(1.0)
        await self._subscriber.stop()
        await self._publish(BotFinished(session_id=session_id, bot_id="scripted-room", outcome="completed",
                                        reason="plan_complete", questions_asked=1), session_id)
        await pc.close()

    async def _publish(self, event: Any, session_id: uuid.UUID) -> None:
        await publish_envelope(self.broker, self.namespace, envelope(event, org_id=self._org, session_id=session_id))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pc in self._pcs:
            await pc.close()


async def test_the_candidate_joins_hears_and_answers_through_the_real_room_path(
    gateway, base_settings, bot_broker, models  # type: ignore[no-untyped-def]
) -> None:
    voice, ears = models
    config = load_config(EXAMPLE_CONFIG, 1)
    question = config["questions"][0]["text"]
    room = ScriptedRoom(bot_broker, base_settings.bus_namespace, voice, ears, [
        f"Hello, I'm Ada. Let's begin. {question}",
        "Could you also tell me about scale?",
        "That was my last question. The team will be in touch. Goodbye.",
    ])
    org_id, token = dev_organisation(base_settings)
    try:
        result = await asyncio.wait_for(simulate(
            gateway, org_id, token, config, load_persona("strong"), voice=voice, ears=ears,
            timeout_seconds=120, score_wait_seconds=0, on_started=room.serve,
        ), 180)
    finally:
        await room.close()

    assert result.status == "completed" and result.status_reason == "plan_complete", result
    assert result.room_deleted
    assert room.offers == 1
    heard = [(line.kind, line.question_id) for line in result.lines if line.speaker == "interviewer"]
    assert heard == [("question", "intro"), ("follow_up", "intro"), ("closing", "intro")]
    assert result.asked == ["intro"]
    assert len(result.spoken) == 2 and "scale" in result.spoken[1]
    # What the candidate said reached the other end intact enough for Whisper tiny to recover it.
    for spoken, transcribed in zip(result.spoken, room.heard, strict=True):
        assert word_recovery(spoken, transcribed) >= 0.8, (spoken, transcribed)
    timings = result.timings
    assert len(timings.voice_to_voice) == 2 and all(0 < v < 5 for v in timings.voice_to_voice)
    assert len(timings.stt) == 3 and len(timings.tts) == 2 and timings.reconnects == 0
    assert result.start_to_first_speech is not None and result.start_to_first_speech > 1.5
