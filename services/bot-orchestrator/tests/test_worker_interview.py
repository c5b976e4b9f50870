"""A bot worker conducts interviews over local WebRTC: real RabbitMQ, session-svc and gateway, real models.

The worker consumes the run's ``bot.jobs`` queue; the candidate is an aiortc peer in the test that
sends its offer through the gateway (which relays it over the bus to the bot serving the session),
hears the bot on 127.0.0.1 only, and answers with synthesised speech. What happened is read from
the events on the bus, as other services see them.
"""

import asyncio
import fractions
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import httpx
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av import AudioFrame

from bot_orchestrator.worker.internal_api import bot_token
from bot_orchestrator.worker.models import Models
from bot_orchestrator.worker.process import JOBS, BotWorker
from bot_orchestrator.worker.recording import decode_ogg
from bot_orchestrator.worker.settings import BotSettings
from bot_orchestrator.worker.webrtc import restrict_ice_to_loopback
from voice_shared.internal_api import SessionApi
from voice_shared.objects import LocalObjectStore
from voice_shared.testing import auth, config_body, session_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RATE = 48_000  # what aiortc's Opus encoder takes
SAMPLES_PER_FRAME = RATE // 50
QUESTION = "Tell me about a system you built recently."
ANSWER = "I built a billing service in Python for a team of six engineers and we moved it to the cloud."


class Voice(MediaStreamTrack):
    """The candidate's microphone: silence, except what it is told to say, in real time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()
        self._sent = 0
        self._started: float | None = None

    def say(self, pcm: bytes) -> None:
        self._pending.extend(pcm)

    @property
    def talking(self) -> bool:
        return bool(self._pending)

    async def recv(self) -> AudioFrame:
        if self._started is None:
            self._started = time.monotonic()
        wait = self._started + self._sent / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        size = SAMPLES_PER_FRAME * 2
        chunk = bytes(self._pending[:size]).ljust(size, b"\0")
        del self._pending[:size]
        frame = AudioFrame(format="s16", layout="mono", samples=SAMPLES_PER_FRAME)
        frame.planes[0].update(chunk)
        frame.sample_rate, frame.pts, frame.time_base = RATE, self._sent, fractions.Fraction(1, RATE)
        self._sent += SAMPLES_PER_FRAME
        return frame


class Candidate:
    """An aiortc peer that joins through the gateway's offer route and listens to the bot."""

    def __init__(self, gateway: httpx.AsyncClient, session: dict[str, Any], headers: dict[str, str]) -> None:
        self._gateway, self._session, self._headers = gateway, session, headers
        self.voice = Voice()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.heard_frames = 0
        self.heard_voice_frames = 0  # frames with sound in them
        self._listeners: list[asyncio.Task[None]] = []

        self.messages: list[str] = []  # what the bot sent over the data channel

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._listeners.append(asyncio.create_task(self._listen(track)))

    def _open_data_channel(self) -> None:
        """Like the join page: a data channel with a ping every second (the bot's sign we are there)."""
        channel = self.pc.createDataChannel("chat", ordered=True)

        async def ping() -> None:
            while channel.readyState != "closed":
                if channel.readyState == "open":
                    channel.send(f"ping: {time.time()}")
                await asyncio.sleep(1)

        @channel.on("open")
        def on_open() -> None:
            self._listeners.append(asyncio.create_task(ping()))

        @channel.on("message")
        def on_message(message: Any) -> None:
            if isinstance(message, str):
                self.messages.append(message)

    async def _listen(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except Exception:  # the track ended
                return
            self.heard_frames += 1
            if np.abs(frame.to_ndarray()).max() > 500:
                self.heard_voice_frames += 1

    async def join(self, timeout: float = 20.0) -> dict[str, Any]:  # noqa: ASYNC109
        self.pc.addTrack(self.voice)  # audio first: the bot reads the first transceiver as the microphone
        self._open_data_channel()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = {"sdp": self.pc.localDescription.sdp, "type": "offer"}
        url = f"/api/voice/sessions/{self._session['id']}/webrtc/offer?orgId={self._session['orgId']}"
        deadline = time.monotonic() + timeout
        while True:  # until the bot has taken the job and serves the session's offers
            answered = await self._gateway.post(url, json=offer, headers=self._headers)
            if answered.status_code == 200 or time.monotonic() > deadline:
                break
            assert answered.json()["error"]["code"] == "bot_not_connected", answered.text
            await asyncio.sleep(0.2)
        assert answered.status_code == 200, answered.text
        answer = answered.json()
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        return answer  # type: ignore[no-any-return]

    async def leave(self) -> None:
        await self.pc.close()
        for task in self._listeners:
            task.cancel()


async def purge_jobs(settings: BotSettings) -> None:
    """Jobs of sessions other tests of this run started and left: not this module's to serve."""
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        jobs = await channel.declare_queue(JOBS.queue_name(settings.bus_namespace), passive=True)
        await jobs.purge()


@pytest.fixture(scope="module")
async def bot(platform_env: dict[str, str], session_svc_app: Any, topology: None, models: Models) -> AsyncIterator[
    BotWorker
]:
    """One warm bot worker serving the run's job queue, with session-svc in process."""
    restrict_ice_to_loopback()  # the test's own peer too: nothing leaves 127.0.0.1
    settings = BotSettings(**platform_env, bot_id=f"bot-test-{uuid.uuid4().hex[:6]}",  # type: ignore[arg-type]
                           no_show_timeout_seconds=8, rejoin_grace_seconds=3, heartbeat_seconds=1,
                           shutdown_grace_seconds=1, recording_part_seconds=3,
                           max_rss_mb=0)  # the test process holds the services too: its memory is not a bot's
    await purge_jobs(settings)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=session_svc_app), base_url="http://session-svc")
    worker = BotWorker(settings, models, SessionApi(http, bot_token(settings)))
    running = asyncio.create_task(worker.run())
    yield worker
    worker.request_stop()
    assert await asyncio.wait_for(running, 30) == "stopped"
    await http.aclose()


async def started_session(
    gateway: httpx.AsyncClient, token: Any, **config: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    made = await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(**config), headers=admin)
    assert made.status_code == 201, made.text
    session = (await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(made.json()["id"]),
                                  headers=admin)).json()
    started = await gateway.post(f"/api/voice/sessions/{session['id']}/start?orgId={org}", headers=admin)
    assert started.status_code == 200, started.text
    dispatched = await gateway.post(f"/api/voice/sessions/{session['id']}/dispatch?orgId={org}", headers=admin)
    assert dispatched.status_code == 200, dispatched.text
    return dispatched.json(), admin


def one_question(**follow_up: Any) -> dict[str, Any]:
    return {"greeting": "Hello, I'm Ada.",
            "questions": [{"id": "intro", "text": QUESTION, "followUp": {"enabled": False, **follow_up}}]}


async def wait_status(gateway: httpx.AsyncClient, session: dict[str, Any], headers: dict[str, str],
                      status: str) -> dict[str, Any]:
    url = f"/api/voice/sessions/{session['id']}?orgId={session['orgId']}"
    for _ in range(100):
        body: dict[str, Any] = (await gateway.get(url, headers=headers)).json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"the session stayed {body['status']}, not {status}")


async def test_the_bot_interviews_a_candidate_over_local_webrtc(  # type: ignore[no-untyped-def]
    bot: BotWorker, gateway, token, event_log, speak, platform_env
) -> None:
    recorded = {"providers": {**config_body()["providers"], "recording": "audio"}}
    session, admin = await started_session(gateway, token, **one_question(), **recorded)
    sid = session["id"]
    candidate = Candidate(gateway, session, admin)
    try:
        answer = await candidate.join()
        # Media stays on loopback: the only ICE candidates either side offers are 127.0.0.1.
        for sdp in (answer["sdp"], candidate.pc.localDescription.sdp):
            offered = [line for line in sdp.splitlines() if line.startswith("a=candidate")]
            assert offered and all(" 127.0.0.1 " in line for line in offered), offered
        joined = await event_log.wait_for(sid, "bot.joined", timeout=15)
        assert joined[0]["payload"]["bot_id"] == bot.bot_id and joined[0]["payload"]["resumed"] is False

        asked = await event_log.wait_for(sid, "interview.question_asked", timeout=15)
        assert (asked[0]["payload"]["question_id"], asked[0]["payload"]["follow_up_index"]) == ("intro", 0)
        # The question has played once its transcript segment is out: then the candidate answers.
        await event_log.wait_for(sid, "transcript.segment", count=2, timeout=20)
        candidate.voice.say(speak(ANSWER, RATE))

        finished = (await event_log.wait_for(sid, "bot.finished", timeout=45))[0]["payload"]
    finally:
        await candidate.leave()

    assert (finished["outcome"], finished["reason"]) == ("completed", "plan_complete")
    assert (finished["questions_asked"], finished["answers_received"]) == (1, 1)
    assert finished["latency_p50_ms"] is not None and finished["latency_p50_ms"] > 0
    segments = [e["payload"] for e in event_log.of(sid, "transcript.segment")]
    assert [s["sequence"] for s in segments] == list(range(len(segments)))
    assert [(s["speaker"], s["kind"]) for s in segments] == [
        ("bot", "greeting"), ("bot", "question"), ("candidate", "answer"), ("bot", "closing"),
    ]
    assert segments[1]["text"].endswith(QUESTION) and segments[1]["question_id"] == "intro"
    heard = segments[2]["text"].lower()
    assert "billing" in heard and "python" in heard, heard
    assert all(s["start_ms"] <= s["end_ms"] for s in segments)
    assert all(a["end_ms"] <= b["start_ms"] + 50 for a, b in zip(segments, segments[1:], strict=False))
    answered = event_log.of(sid, "interview.answer_received")[0]["payload"]
    assert answered["question_id"] == "intro" and answered["word_count"] >= 12
    # The candidate heard the bot: seconds of voiced audio arrived over the peer connection; and was
    # told the bot left (what the join page shows as "has left the call").
    assert candidate.heard_voice_frames > 100, (candidate.heard_frames, candidate.heard_voice_frames)
    assert any('"peerLeft"' in m for m in candidate.messages), candidate.messages[-3:]
    body = await wait_status(gateway, session, admin, "completed")
    assert body["statusReason"] == "plan_complete"
    types = [e["type"] for e in event_log.of(sid) if e["type"] != "bot.heartbeat"]
    assert types.index("bot.joined") < types.index("interview.question_asked") < types.index("bot.finished")
    # transcript-svc's transcript.completed follows the session's end.
    lifecycle = [t for t in types if t not in ("transcript.completed", "recording.completed")]
    assert lifecycle[-2:] == ["bot.finished", "session.ended"] or lifecycle[-1] == "bot.finished"

    # The recording: one stereo file as long as the interview (its clock is the segments'), the
    # candidate on the left while they answered, the interviewer on the right while it spoke.
    (stored,) = [e["payload"] for e in await event_log.wait_for(sid, "recording.completed", timeout=20)]
    store = LocalObjectStore(platform_env["object_store_dir"])
    audio = decode_ogg(await store.get(stored["object_key"]))
    assert stored["object_key"].startswith(f"recordings/{session['orgId']}/") and stored["object_key"].endswith(
        f"/{sid}.ogg")
    assert await store.keys(f"recordings/{session['orgId']}/parts/") == []  # the parts were joined and deleted
    assert abs(len(audio) / 16_000 * 1000 - stored["duration_ms"]) < 100
    assert abs(stored["duration_ms"] - segments[-1]["end_ms"]) < 1000, (stored["duration_ms"], segments[-1])

    def loudness(channel: int, start_ms: int, end_ms: int) -> float:
        piece = audio[start_ms * 16:end_ms * 16, channel].astype(np.float64)
        return float(np.sqrt(np.mean(piece ** 2))) if len(piece) else 0.0

    spoke, answered = segments[1], segments[2]
    assert loudness(1, spoke["start_ms"], spoke["end_ms"]) > 10 * loudness(0, spoke["start_ms"], spoke["end_ms"]) + 1
    assert loudness(0, answered["start_ms"], answered["end_ms"]) > 100


async def test_a_candidate_whose_connection_drops_rejoins_and_the_interview_goes_on(  # type: ignore[no-untyped-def]
    bot: BotWorker, gateway, token, event_log, speak
) -> None:
    session, admin = await started_session(gateway, token, **one_question())
    sid = session["id"]
    first = Candidate(gateway, session, admin)
    await first.join()
    await event_log.wait_for(sid, "transcript.segment", count=2, timeout=20)  # greeting and question played
    await first.leave()
    again = Candidate(gateway, session, admin)
    try:
        await again.join()
        # "Sorry, we lost the connection", then the unanswered question again; then the answer.
        await event_log.wait_for(sid, "transcript.segment", count=4, timeout=20)
        again.voice.say(speak(ANSWER, RATE))
        finished = (await event_log.wait_for(sid, "bot.finished", timeout=45))[0]["payload"]
    finally:
        await again.leave()

    assert (finished["outcome"], finished["reason"]) == ("completed", "plan_complete")
    segments = [e["payload"] for e in event_log.of(sid, "transcript.segment")]
    assert [s["sequence"] for s in segments] == list(range(len(segments)))
    assert [(s["speaker"], s["kind"]) for s in segments] == [
        ("bot", "greeting"), ("bot", "question"), ("bot", "reconnected"), ("bot", "question"),
        ("candidate", "answer"), ("bot", "closing"),
    ]
    assert segments[3]["text"].endswith(QUESTION) and segments[3]["start_ms"] > segments[1]["end_ms"]
    assert len(event_log.of(sid, "bot.joined")) == 1  # the bot joined once; the candidate came back
    assert again.heard_voice_frames > 100


async def test_a_candidate_who_hangs_up_ends_the_interview_cleanly(  # type: ignore[no-untyped-def]
    bot: BotWorker, gateway, token, event_log
) -> None:
    session, admin = await started_session(gateway, token, **one_question())
    sid = session["id"]
    candidate = Candidate(gateway, session, admin)
    await candidate.join()
    await event_log.wait_for(sid, "interview.question_asked", timeout=15)
    await candidate.leave()

    finished = (await event_log.wait_for(sid, "bot.finished", timeout=20))[0]["payload"]

    assert (finished["outcome"], finished["reason"]) == ("completed", "candidate_disconnected")
    assert finished["questions_asked"] == 1 and finished["answers_received"] == 0
    body = await wait_status(gateway, session, admin, "completed")
    assert body["statusReason"] == "candidate_disconnected"
    # The interview is over: calling back is refused at once, not left to time out.
    retry = await gateway.post(f"/api/voice/sessions/{sid}/webrtc/offer?orgId={session['orgId']}",
                               json={"sdp": "v=0\r\n", "type": "offer"}, headers=admin)
    assert retry.status_code == 409 and retry.json()["error"]["code"] == "session_not_joinable"


async def test_a_candidate_who_pressed_start_and_never_connected_frees_the_bot_and_may_start_again(  # type: ignore[no-untyped-def]
    bot: BotWorker, gateway, token, event_log
) -> None:
    session, admin = await started_session(gateway, token, **one_question())

    released = (await event_log.wait_for(session["id"], "bot.released", timeout=20))[0]["payload"]

    assert (released["bot_id"], released["reason"]) == (bot.bot_id, "candidate_no_show")
    assert event_log.of(session["id"], "bot.joined") == [] and event_log.of(session["id"], "bot.finished") == []
    for _ in range(50):  # session-svc takes the release in: the session is ready again, not dispatched
        body = (await gateway.get(f"/api/voice/sessions/{session['id']}?orgId={session['orgId']}",
                                  headers=admin)).json()
        if body["dispatchedAt"] is None:
            break
        await asyncio.sleep(0.1)
    assert (body["status"], body["dispatchedAt"]) == ("ready", None)


async def test_a_session_the_worker_cannot_run_fails_at_once_with_a_clear_reason(  # type: ignore[no-untyped-def]
    bot: BotWorker, gateway, token, event_log
) -> None:
    providers = {"transport": "local", "llm": {"provider": "openai", "options": {"model": "gpt-4o-mini"}}}
    session, admin = await started_session(gateway, token, providers=providers, **one_question())

    finished = (await event_log.wait_for(session["id"], "bot.finished", timeout=10))[0]["payload"]

    assert finished["outcome"] == "failed"
    assert finished["reason"].startswith("credential_missing:") and "OpenAI" in finished["reason"]
    body = await wait_status(gateway, session, admin, "failed")
    assert body["statusReason"] == finished["reason"]
