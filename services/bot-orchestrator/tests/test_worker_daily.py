"""Daily rooms, up to the network boundary: Daily's servers cannot be reached from here.

- The transport: the real ``DailyTransport`` is built from the session's room access and not started
  (building one opens no connection; its pipeline joins the room when it starts).
- The job: a stand-in room is injected where the job makes its Daily transport (``WorkerContext.daily_transport``).
  It is a Pipecat transport (input and output processors, Daily's events) with a candidate who joins,
  talks in real time, hears the bot and leaves; the real pipeline (Silero VAD, smart turn, Whisper,
  Piper), interviewer and engine run on it. The bus is FastStream's in-memory test broker.
"""

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.rabbit import RabbitBroker, TestRabbitBroker
from pipecat.frames.frames import (
    CancelFrame,
    ClientConnectedFrame,
    EndFrame,
    OutputAudioRawFrame,
    StartFrame,
    UserAudioRawFrame,
)
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

from bot_orchestrator.worker.daily import daily_params, daily_transport
from bot_orchestrator.worker.job import InterviewJob, JobResult, WorkerContext
from bot_orchestrator.worker.models import Models
from bot_orchestrator.worker.pipeline import AUDIO_IN_SAMPLE_RATE, AUDIO_OUT_SAMPLE_RATE
from bot_orchestrator.worker.settings import BotSettings
from voice_shared.api.bot import SessionPlan
from voice_shared.api.configs import InterviewDefinition
from voice_shared.api.rooms import RoomAccess
from voice_shared.contracts import BotFinished, Envelope, SessionDispatched, SessionStatus, envelope
from voice_shared.internal_api import SessionApi
from voice_shared.testing import auth, config_body, session_body

ORG, CONFIG = uuid.uuid4(), uuid.uuid4()
QUESTION = "Tell me about a system you built recently."
ANSWER = "I built a billing service in Python for a team of six engineers and we moved it to the cloud."
FRAME_BYTES = AUDIO_IN_SAMPLE_RATE // 50 * 2  # 20 ms of 16-bit mono


def room_access(provider: str = "daily") -> RoomAccess:
    return RoomAccess(provider=provider, name=f"s-{uuid.uuid4().hex[:8]}-1",  # type: ignore[arg-type]
                      url="https://acme.daily.co/interview-room" if provider == "daily" else "http://gw/offer",
                      expires_at=datetime.now(UTC) + timedelta(hours=1),
                      token="owner-token-of-the-bot" if provider == "daily" else None)


def daily_plan(session_id: uuid.UUID) -> SessionPlan:
    body = config_body(
        greeting="Hello, I'm Ada.", providers={"transport": "daily"},
        questions=[{"id": "intro", "text": QUESTION, "followUp": {"enabled": False}}],
    )
    definition = InterviewDefinition.model_validate({k: v for k, v in body.items() if k not in ("name", "description")})
    return SessionPlan(session_id=session_id, org_id=ORG, status=SessionStatus.ready, config_id=CONFIG,
                       config_version=1, definition=definition)


class FakeSessionApi:
    def __init__(self, plan: SessionPlan, room: RoomAccess | None) -> None:
        self._plan, self._room = plan, room
        self.asked: list[str] = []

    async def plan(self, org_id: uuid.UUID, session_id: uuid.UUID) -> SessionPlan:
        self.asked.append("plan")
        return self._plan

    async def room(self, org_id: uuid.UUID, session_id: uuid.UUID) -> RoomAccess | None:
        self.asked.append("room")
        return self._room

    async def credential(self, org_id: uuid.UUID, service: str) -> str | None:
        self.asked.append(f"credential:{service}")
        return None


# --- a Daily room without Daily ---------------------------------------------------------------------


class RoomInput(BaseInputTransport):
    def __init__(self, room: "StandInRoom", params: TransportParams) -> None:
        super().__init__(params)
        self._room = room

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)
        await self._room.bot_joins()

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._room.bot_leaves()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._room.bot_leaves()


class RoomOutput(BaseOutputTransport):
    def __init__(self, room: "StandInRoom", params: TransportParams) -> None:
        super().__init__(params)
        self._room = room

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        """The bot's voice reaches the candidate in real time, as a room plays it."""
        self._room.heard.extend(frame.audio)
        await asyncio.sleep(len(frame.audio) / (2 * frame.sample_rate * frame.num_channels))
        return True


class StandInRoom(BaseTransport):
    """A Daily room as the bot's pipeline sees it: ``DailyTransport``'s processors and events, no Daily.

    The bot "joins" when its input transport starts (``on_joined``, or ``on_error`` and an error frame
    when ``join_error`` is set); a candidate joining calls Daily's participant events and pushes a
    ``ClientConnectedFrame`` as ``DailyTransport`` does, then streams microphone audio in real time.
    """

    def __init__(self, room: RoomAccess, bot_name: str, *, join_error: str | None = None) -> None:
        super().__init__()
        self.room, self.bot_name, self.params = room, bot_name, daily_params()
        self._join_error = join_error
        self._input = RoomInput(self, self.params)
        self._output = RoomOutput(self, self.params)
        self.bot_in_room, self.bot_left = asyncio.Event(), asyncio.Event()
        self.heard = bytearray()  # the bot's voice, as the candidate hears it
        self._speech = bytearray()  # what the candidate is about to say
        self._candidate: dict[str, Any] | None = None
        self._microphone: asyncio.Task[None] | None = None
        for name in ("on_joined", "on_left", "on_error", "on_first_participant_joined", "on_participant_joined",
                     "on_participant_left", "on_client_connected", "on_client_disconnected"):
            self._register_event_handler(name)

    def input(self) -> RoomInput:
        return self._input

    def output(self) -> RoomOutput:
        return self._output

    def get_client_id(self, client: Any) -> str:
        return str(client["id"])

    async def bot_joins(self) -> None:
        if self._join_error is not None:
            error = f"Error joining {self.room.url}: {self._join_error}"
            await self._call_event_handler("on_error", error)
            await self._input.push_error(error_msg=error)
            return
        self.bot_in_room.set()
        await self._call_event_handler("on_joined", {"participants": {"local": {"id": "bot"}}})

    async def bot_leaves(self) -> None:
        if self.bot_in_room.is_set() and not self.bot_left.is_set():
            self.bot_left.set()
            self._stop_microphone()
            await self._call_event_handler("on_left")

    async def candidate_joins(self, participant_id: str) -> None:
        await asyncio.wait_for(self.bot_in_room.wait(), 15)
        self._candidate = {"id": participant_id, "info": {"userName": "Sam Candidate", "isOwner": False}}
        self._microphone = asyncio.create_task(self._speak_in_real_time(), name=f"microphone-{participant_id}")
        await self._call_event_handler("on_first_participant_joined", self._candidate)
        await self._call_event_handler("on_participant_joined", self._candidate)
        await self._call_event_handler("on_client_connected", self._candidate)
        await self._input.push_frame(ClientConnectedFrame())

    async def candidate_leaves(self) -> None:
        assert self._candidate is not None
        self._stop_microphone()
        await self._call_event_handler("on_participant_left", self._candidate, "leftCall")
        await self._call_event_handler("on_client_disconnected", self._candidate)

    def say(self, pcm: bytes) -> None:
        self._speech.extend(pcm)

    def _stop_microphone(self) -> None:
        if self._microphone is not None:
            self._microphone.cancel()
            self._microphone = None

    async def _speak_in_real_time(self) -> None:
        """20 ms frames of the candidate's microphone: silence, except what they were told to say."""
        assert self._candidate is not None
        started, sent = time.monotonic(), 0
        while True:
            chunk = bytes(self._speech[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
            del self._speech[:FRAME_BYTES]
            await self._input.push_audio_frame(UserAudioRawFrame(
                audio=chunk, sample_rate=AUDIO_IN_SAMPLE_RATE, num_channels=1, user_id=self._candidate["id"],
            ))
            sent += 1
            await asyncio.sleep(max(0.0, started + sent * 0.02 - time.monotonic()))


class Rooms:
    """The seam: what the job calls for each Daily transport it makes; keeps every room it handed out."""

    def __init__(self, join_error: str | None = None) -> None:
        self._join_error = join_error
        self.made: list[StandInRoom] = []

    def __call__(self, room: RoomAccess, bot_name: str) -> StandInRoom:
        self.made.append(StandInRoom(room, bot_name, join_error=self._join_error))
        return self.made[-1]

    async def nth(self, n: int, timeout: float = 15) -> StandInRoom:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while len(self.made) <= n:
            assert time.monotonic() < deadline, f"the bot made {len(self.made)} Daily transports, not {n + 1}"
            await asyncio.sleep(0.05)
        return self.made[n]


# --- the job -----------------------------------------------------------------------------------------


@pytest.fixture
async def broker() -> AsyncIterator[RabbitBroker]:
    """FastStream's in-memory broker: the job takes the session's offer queue there; nothing connects."""
    async with TestRabbitBroker(RabbitBroker()) as test_broker:
        yield test_broker


class Job:
    def __init__(self, models: Models, broker: RabbitBroker, api: FakeSessionApi, rooms: Rooms,
                 session_id: uuid.UUID, **settings: Any) -> None:
        self.published: list[Envelope] = []
        ctx = WorkerContext(BotSettings(environment="test", **settings), models, broker,
                            session_api=api, transcript_api=None, publish=self._publish,  # type: ignore[arg-type]
                            bot_id="bot-daily", daily_transport=rooms)
        started = SessionDispatched(session_id=session_id, config_id=CONFIG, config_version=1, transport="daily",
                                    dispatched_by="user-1")
        job = envelope(started, org_id=ORG, session_id=session_id, correlation_id="corr-daily",
                       occurred_at=datetime.now(UTC))
        self.task = asyncio.create_task(InterviewJob(ctx, started, job).run())

    async def _publish(self, env: Envelope) -> None:
        self.published.append(env)

    def of(self, event_type: str) -> list[dict[str, Any]]:
        return [e.payload for e in self.published if e.type == event_type]

    async def wait_for(self, event_type: str, count: int = 1, timeout: float = 20) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while len(self.of(event_type)) < count:
            assert not self.task.done(), (self.task.result(), [e.type for e in self.published])
            assert time.monotonic() < deadline, f"{event_type} x{count}: {[e.type for e in self.published]}"
            await asyncio.sleep(0.05)

    async def result(self, timeout: float = 60) -> JobResult:  # noqa: ASYNC109
        return await asyncio.wait_for(self.task, timeout)


def segments(job: Job) -> list[tuple[str, str]]:
    return [(s["speaker"], s["kind"]) for s in job.of("transcript.segment")]


@pytest.mark.slow
async def test_the_bot_waits_in_the_daily_room_and_interviews_the_candidate_who_joins(  # type: ignore[no-untyped-def]
    models, speak, broker
) -> None:
    sid, access, rooms = uuid.uuid4(), room_access(), Rooms()
    api = FakeSessionApi(daily_plan(sid), access)
    job = Job(models, broker, api, rooms, sid, no_show_timeout_seconds=30)

    room = await rooms.nth(0)
    await asyncio.wait_for(room.bot_in_room.wait(), 15)  # the bot is in the room before anyone else
    assert (room.room, room.bot_name) == (access, "Ada")
    await asyncio.sleep(0.5)
    assert job.published == []  # nobody has joined: no bot.joined, no greeting
    await room.candidate_joins("participant-1")
    await job.wait_for("transcript.segment", count=2)  # the greeting and the question have played
    room.say(speak(ANSWER, AUDIO_IN_SAMPLE_RATE))
    result = await job.result()

    assert (result.outcome, result.reason) == ("completed", "plan_complete")
    assert api.asked == ["plan", "room"]
    [joined] = job.of("bot.joined")
    assert (joined["bot_id"], joined["resumed"]) == ("bot-daily", False)
    assert segments(job) == [("bot", "greeting"), ("bot", "question"), ("candidate", "answer"), ("bot", "closing")]
    heard = job.of("transcript.segment")[2]["text"].lower()
    assert "billing" in heard and "python" in heard, heard
    finished = BotFinished.model_validate(job.of("bot.finished")[0])
    assert (finished.questions_asked, finished.answers_received) == (1, 1)
    assert finished.latency_p50_ms is not None and finished.latency_p50_ms > 0
    types = [e.type for e in job.published]
    assert types[0] == "bot.joined" and types[-1] == "bot.finished"
    # The candidate heard the bot (seconds of its voice at the output rate), and the bot left the room.
    assert len(room.heard) > 3 * AUDIO_OUT_SAMPLE_RATE * 2
    assert room.bot_left.is_set() and len(rooms.made) == 1


@pytest.mark.slow
async def test_a_candidate_who_leaves_the_room_finds_the_bot_there_again_and_then_leaves_for_good(  # type: ignore[no-untyped-def]
    models, broker
) -> None:
    sid, rooms = uuid.uuid4(), Rooms()
    job = Job(models, broker, FakeSessionApi(daily_plan(sid), room_access()), rooms, sid,
              no_show_timeout_seconds=30, rejoin_grace_seconds=2)

    first = await rooms.nth(0)
    await first.candidate_joins("participant-1")
    await job.wait_for("transcript.segment", count=2)
    await first.candidate_leaves()
    # The bot's pipeline ends (it leaves the room) and a fresh one joins the room to wait for them.
    second = await rooms.nth(1)
    await asyncio.wait_for(first.bot_left.wait(), 10)
    await second.candidate_joins("participant-2")  # a new Daily participant: the same candidate, back
    await job.wait_for("transcript.segment", count=4)  # "sorry, we lost the connection", the question again
    await second.candidate_leaves()
    result = await job.result(timeout=20)

    assert (result.outcome, result.reason) == ("completed", "candidate_disconnected")
    assert segments(job) == [("bot", "greeting"), ("bot", "question"), ("bot", "reconnected"), ("bot", "question")]
    assert len(job.of("bot.joined")) == 1  # the candidate came back; the bot did not join the session again
    finished = BotFinished.model_validate(job.of("bot.finished")[0])
    assert (finished.outcome, finished.questions_asked, finished.answers_received) == ("completed", 1, 0)
    # After the second leave the bot waited in the room again, for the grace period, then left it.
    assert len(rooms.made) == 3 and all(r.bot_left.is_set() for r in rooms.made)
    assert rooms.made[2].bot_in_room.is_set()


@pytest.mark.slow
async def test_nobody_joins_the_room_and_the_bot_lets_the_session_go(models, broker) -> None:  # type: ignore[no-untyped-def]
    sid, rooms = uuid.uuid4(), Rooms()
    job = Job(models, broker, FakeSessionApi(daily_plan(sid), room_access()), rooms, sid, no_show_timeout_seconds=1.5)

    result = await job.result(timeout=20)

    assert (result.outcome, result.reason) == ("released", "candidate_no_show")
    assert [e.type for e in job.published] == ["bot.released"]
    [room] = rooms.made
    assert room.bot_in_room.is_set() and room.bot_left.is_set()


@pytest.mark.slow
async def test_a_bot_that_cannot_get_into_the_room_fails_the_session_at_once(models, broker) -> None:  # type: ignore[no-untyped-def]
    sid, rooms = uuid.uuid4(), Rooms(join_error="the meeting token was rejected")
    job = Job(models, broker, FakeSessionApi(daily_plan(sid), room_access()), rooms, sid, no_show_timeout_seconds=60)
    began = time.monotonic()

    result = await job.result(timeout=30)

    assert result.outcome == "failed" and result.reason.startswith("room_join_failed: Error joining https://acme")
    assert "the meeting token was rejected" in result.reason
    assert time.monotonic() - began < 20  # not the no-show timeout
    [finished] = job.of("bot.finished")
    assert finished["reason"] == result.reason
    assert job.of("bot.joined") == []


def no_models() -> Models:
    """Enough for the checks before a room is served (Piper's voice is 'there'); no pipeline is built."""
    return Models(whisper=None, whisper_path="", piper=object(), espeak=None)


@pytest.mark.parametrize(("room", "reason"), [
    (None, "room_not_found: session-svc has no live room for this session"),
    (room_access("local"), "room_not_daily: the config asks for a Daily room but the session's room is local"),
])
async def test_a_daily_session_without_a_daily_room_fails_with_the_reason(
    broker: RabbitBroker, room: RoomAccess | None, reason: str
) -> None:
    sid, rooms = uuid.uuid4(), Rooms()
    api = FakeSessionApi(daily_plan(sid), room)
    job = Job(no_models(), broker, api, rooms, sid)

    result = await job.result(timeout=10)

    assert result.outcome == "failed" and result.reason.startswith(reason), result.reason
    assert api.asked == ["plan", "room"]  # the checks before serving accepted the Daily transport
    assert [e.type for e in job.published] == ["bot.finished"] and rooms.made == []


async def test_without_daily_python_a_daily_session_fails_at_once_saying_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # What an import of pipecat's Daily transport does where daily-python is not installed.
    monkeypatch.setitem(sys.modules, "pipecat.transports.daily.transport", None)
    sid, rooms = uuid.uuid4(), Rooms()
    api = FakeSessionApi(daily_plan(sid), room_access())
    job = Job(no_models(), None, api, rooms, sid)  # type: ignore[arg-type]  # never gets as far as the bus

    result = await job.result(timeout=10)

    assert result.outcome == "failed"
    assert result.reason.startswith("transport_unavailable: this bot worker cannot join Daily rooms"), result.reason
    assert "pipecat-ai[daily]" in result.reason
    assert api.asked == ["plan"] and rooms.made == []
    assert [e.type for e in job.published] == ["bot.finished"]


# --- the real DailyTransport, built and not started ---------------------------------------------------


async def test_the_daily_transport_joins_the_sessions_room_with_the_bots_token_name_and_audio() -> None:
    from pipecat.transports.daily.transport import DailyInputTransport, DailyOutputTransport, DailyTransport

    access = room_access()
    transport = daily_transport(access, "Ada")
    try:
        assert isinstance(transport, DailyTransport)
        assert isinstance(transport.input(), DailyInputTransport)
        assert isinstance(transport.output(), DailyOutputTransport)
        assert transport.room_url == access.url
        # What its client passes to daily-python's join() and set_user_name() once the pipeline starts.
        client = transport._client  # no public accessors for these
        assert (client._token, client._bot_name) == ("owner-token-of-the-bot", "Ada")
        params = transport._params
        assert (params.audio_in_enabled, params.audio_out_enabled) == (True, True)
        assert (params.audio_in_sample_rate, params.audio_out_sample_rate) == (AUDIO_IN_SAMPLE_RATE,
                                                                              AUDIO_OUT_SAMPLE_RATE)
        assert not params.video_in_enabled and not params.video_out_enabled
        assert not params.transcription_enabled  # speech-to-text is the pipeline's own
        assert not hasattr(params, "vad_analyzer")  # VAD and end of turn stay on the user aggregator
    finally:
        await transport._client.cleanup()  # releases daily-python's call client


BUILD_ONLY = """
from datetime import UTC, datetime, timedelta
from bot_orchestrator.worker.daily import daily_transport
from voice_shared.api.rooms import RoomAccess
room = RoomAccess(provider="daily", name="r", url="https://acme.daily.co/r", token="t",
                  expires_at=datetime.now(UTC) + timedelta(hours=1))
transport = daily_transport(room, "Ada")
transport.input(), transport.output()
print("built")
"""


def test_building_the_daily_transport_opens_no_network_socket(tmp_path: Any) -> None:
    # daily-python is native code: Python's socket module cannot see what it does; strace can.
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    trace = tmp_path / "trace"
    done = subprocess.run(
        [strace, "-f", "-e", "trace=socket,connect", "-o", str(trace), sys.executable, "-c", BUILD_ONLY],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if done.returncode != 0 and "ptrace" in done.stderr.lower():
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0 and "built" in done.stdout, done.stderr[-2000:]
    calls = trace.read_text().splitlines()
    assert any("execve" in c or "socket" in c or "exited" in c for c in calls)  # the trace ran
    network = [c for c in calls if "AF_INET" in c or "AF_INET6" in c or "AF_NETLINK" in c]
    assert network == [], network


# --- session-svc's room endpoint, through the bot's client ------------------------------------------------


async def test_the_bot_reads_its_room_access_and_none_when_the_session_has_no_live_room(  # type: ignore[no-untyped-def]
    session_svc, token
) -> None:
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    config = (await session_svc.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    sid = (await session_svc.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                  headers=admin)).json()["id"]
    api = SessionApi(session_svc, lambda: token(service="bot"))

    assert await api.room(org, uuid.UUID(sid)) is None  # not started: no room yet
    started = (await session_svc.post(f"/api/voice/sessions/{sid}/start?orgId={org}", headers=admin)).json()
    access = await api.room(org, uuid.UUID(sid))

    assert access is not None
    assert (access.provider, access.name, access.url) == ("local", started["room"]["name"], started["room"]["url"])
    assert access.token is None  # local rooms: the gateway admits callers by their own token
    assert await api.room(uuid.uuid4(), uuid.UUID(sid)) is None  # another org's: no such session
