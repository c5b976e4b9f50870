"""One interview, from the bot job (a ``session.dispatched`` event) to ``bot.finished``.

1. Read the session's plan from session-svc. A session that is gone or already over is dropped
   quietly; one this worker cannot run (a provider or key it does not have, a Daily room without
   daily-python, a language the bundled models do not speak) fails at once with the reason in words,
   never by waiting.
2. Take the session (its offer queue, ``serve_negotiation``: one bot serves a session) and wait for the
   candidate. Local rooms: an offer is answered with a fresh peer connection and a pipeline that starts
   at once. Daily rooms: with the room and owner token session-svc gives it, the bot's pipeline starts
   at once and its ``DailyTransport`` joins the room and waits there; the first participant to join is
   the candidate (offers are refused). No one connected in ``no_show_timeout_seconds`` (the job comes
   when the candidate presses Start, so seconds are plenty): the bot lets the session go
   (``bot.released``) and the candidate may press Start again; a resumed interview fails instead.
3. ``bot.joined`` when the candidate connects (the transport's ``on_client_connected``); the engine greets
   and walks the plan while the interviewer processor publishes questions, answers and transcript segments.
4. The engine's end (plan complete, time up, silence, the candidate asked to stop) ends the pipeline;
   ``bot.finished`` carries the reason, counts and voice-to-voice latency. When the candidate leaves
   (their peer connection drops; they leave the Daily room) the pipeline ends; they may come back within
   ``rejoin_grace_seconds`` (a new offer; joining the room again, where the bot already waits with a
   fresh pipeline) and a new pipeline says so and goes on from the transcript so far; if they do not,
   the interview ends with ``candidate_disconnected``.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import httpx
import structlog
from aiormq.exceptions import ChannelLockedResource
from faststream.rabbit import RabbitBroker
from pipecat.transports.base_transport import BaseTransport
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport  # with the module, not at the first offer
from pipecat.workers.runner import WorkerRunner

from bot_orchestrator.engine import (
    InterviewEngine,
    Interviewer,
    LlmInterviewer,
    OpenAiChatClient,
    PassageSource,
    PastSegment,
    ScriptedInterviewer,
)
from bot_orchestrator.worker.daily import DailyTransportFactory, daily_transport, daily_unavailable
from bot_orchestrator.worker.events import Publish, SessionEvents
from bot_orchestrator.worker.internal_api import SessionPassages
from bot_orchestrator.worker.interviewer import Rejoin
from bot_orchestrator.worker.models import Models
from bot_orchestrator.worker.pipeline import (
    InterviewPipeline,
    Latencies,
    build_pipeline,
    transport_params,
    turn_taking,
)
from bot_orchestrator.worker.providers import Speech, choose_speech
from bot_orchestrator.worker.recording import Recorder
from bot_orchestrator.worker.settings import BotSettings
from bot_orchestrator.worker.webrtc import answer_offer, restrict_ice_to_loopback
from voice_shared.api.bot import SessionPlan
from voice_shared.api.rooms import RoomAccess
from voice_shared.api.transcripts import SessionSegments
from voice_shared.bus import serve_negotiation
from voice_shared.contracts import (
    AnswerReceived,
    BotFinished,
    BotJoined,
    BotReleased,
    Envelope,
    Event,
    NegotiateWebRtc,
    RecordingCompleted,
    SessionDispatched,
    SessionStatus,
    TranscriptSegment,
    WebRtcAnswered,
    WebRtcRefused,
)
from voice_shared.internal_api import ServiceApiError, SessionApi, TranscriptApi
from voice_shared.objects import object_store

log = structlog.get_logger()

OPENAI_URL = "https://api.openai.com/v1"
RECALL_READS, RECALL_SETTLE_SECONDS = 5, 0.4


@dataclass(frozen=True)
class JobResult:
    """``skipped``: nothing to do (the session is gone or over); ``returned``: the job goes back to the
    queue for another bot (this one is stopping and the candidate had not joined). Neither published
    anything about the session. ``released``: the candidate did not connect in time (``bot.released``)."""

    outcome: Literal["completed", "failed", "skipped", "returned", "released"]
    reason: str


@dataclass
class WorkerContext:
    """What every job of one worker process shares."""

    settings: BotSettings
    models: Models
    broker: RabbitBroker
    session_api: SessionApi
    transcript_api: TranscriptApi
    publish: Publish
    bot_id: str
    shutting_down: asyncio.Event = field(default_factory=asyncio.Event)
    clock: Callable[[], float] = time.monotonic
    daily_transport: DailyTransportFactory = daily_transport  # how the bot gets into a Daily room


class Record:
    """The interview's events on their way out, and what the job keeps of them (for a rejoin, the end)."""

    def __init__(self, events: SessionEvents) -> None:
        self._events = events
        self.transcript: list[TranscriptSegment] = []
        self.answers = 0
        self._next_sequence = 0

    def emit(self, event: Event) -> None:
        if isinstance(event, TranscriptSegment):
            self.transcript.append(event)
        elif isinstance(event, AnswerReceived):
            self.answers += 1
        self._events.emit(event)

    def recall(self, stored: SessionSegments) -> None:
        """Start from what another bot of this session said and heard (it died mid-interview)."""
        self.transcript = [TranscriptSegment(session_id=stored.session_id, **s.model_dump())
                           for s in stored.segments if s.final]
        self._next_sequence = stored.next_sequence

    @property
    def next_sequence(self) -> int:
        return max([self._next_sequence, *(s.sequence + 1 for s in self.transcript)])

    def past(self) -> list[PastSegment]:
        return [PastSegment(s.speaker, s.text, s.question_id, s.follow_up_index, s.end_ms) for s in self.transcript]


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class InterviewJob:
    """Runs one session's interview; ``run()`` returns when the bot has left and said so."""

    def __init__(
        self, ctx: WorkerContext, started: SessionDispatched, env: Envelope, *, redelivered: bool = False
    ) -> None:
        self._ctx = ctx
        self._settings = ctx.settings
        self._started = started
        self._env = env
        self._redelivered = redelivered  # another bot may have begun this interview
        self.session_id = started.session_id
        self.org_id: UUID | None = env.org_id
        self._events: SessionEvents | None = None
        self._record: Record | None = None
        self._interviewer: Interviewer | None = None
        self._passages: PassageSource | None = None
        self._speech: Speech | None = None  # the config's STT and TTS, a fresh pair per pipeline
        self._recorder: Recorder | None = None  # the config asks for the bot's audio recording
        self._plan: SessionPlan | None = None
        self._latencies = Latencies()
        self._started_at: float | None = None  # when the interview began (this bot's clock)
        self._joined = False  # bot.joined is out
        self._interview: InterviewPipeline | None = None
        self._pipeline_task: asyncio.Task[None] | None = None
        self._connection: Any = None  # SmallWebRTCConnection
        self._room: RoomAccess | None = None  # a Daily room: where the bot waits for the candidate
        self._candidate: str | None = None  # the connected candidate's client id (a Daily room admits others too)
        self._connected = asyncio.Event()
        self._pipeline_done = asyncio.Event()
        self._candidate_left = False  # and not (yet) back
        self._cut_off: str | None = None  # why the pipeline was stopped from outside
        self._session_over = asyncio.Event()  # the session ended elsewhere (cancelled, ended by a manager)
        self._session_status: str | None = None
        self._over = False
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._greeting: asyncio.Task[None] | None = None  # synthesising the greeting ahead
        self._turns: Any = None  # turn_taking() made ahead for the first pipeline

    def session_ended(self, status: str) -> None:
        """The session reached a terminal state elsewhere: stop waiting, end the interview, free the bot."""
        log.info("session_ended_elsewhere", session_id=str(self.session_id), status=status)
        self._session_status = status
        self._session_over.set()

    async def run(self) -> JobResult:
        log.info("job_received", session_id=str(self.session_id), config_version=self._started.config_version)
        if self.org_id is None:
            return JobResult("skipped", "no_org")
        plan = await self._ctx.session_api.plan(self.org_id, self.session_id)
        if plan is None:
            return JobResult("skipped", "session_not_found")
        if not plan.status.live:
            return JobResult("skipped", f"session_{plan.status}")
        self._plan = plan
        self._events = SessionEvents(self._ctx.publish, self.org_id, self.session_id,
                                     self._env.correlation_id).start()
        self._record = Record(self._events)
        if self._redelivered and plan.status == SessionStatus.active:
            await self._recall(self._record)
        try:
            problem = await self._prepare(plan)
            if problem is not None:
                return await self._finish("failed", problem)
            if self._speech is not None and self._speech.prepare is not None and not self._record.transcript:
                # The greeting is ready before the candidate connects: they hear it at once.
                self._greeting = asyncio.create_task(self._prepare_greeting(self._speech.prepare, plan),
                                                     name=f"greeting-{self.session_id}")
            self._turns = turn_taking(plan.definition.persona)  # the first pipeline's, before the offer comes
            return await self._serve(plan)
        except Exception as e:
            # Once the bot has taken the session, a bug must end it with a reason, not leave it hanging.
            log.exception("interview_failed", session_id=str(self.session_id))
            return await self._finish("failed", f"bot_error: {type(e).__name__}")
        finally:
            await self._close()

    async def _prepare_greeting(self, prepare: Callable[[str], Awaitable[None]], plan: SessionPlan) -> None:
        try:
            await prepare(plan.definition.greeting)
        except Exception as e:  # it is synthesised when it is said instead
            log.warning("greeting_not_prepared", session_id=str(self.session_id), error=f"{type(e).__name__}: {e}")

    async def _recall(self, record: Record) -> None:
        """The transcript so far, as transcript-svc stored it; without it the interview starts over.

        The last segments of the bot that died may still be on their way to transcript-svc: the
        transcript is read until two reads, ``RECALL_SETTLE_SECONDS`` apart, agree (a few at most).
        """
        assert self.org_id is not None
        stored: SessionSegments | None = None
        try:
            for _ in range(RECALL_READS):
                previous, stored = stored, await self._ctx.transcript_api.segments(self.org_id, self.session_id)
                if previous is not None and previous.next_sequence == stored.next_sequence:
                    break
                await asyncio.sleep(RECALL_SETTLE_SECONDS)
        except ServiceApiError as e:
            log.warning("transcript_unavailable", session_id=str(self.session_id), error=str(e))
        if stored is None:
            return
        record.recall(stored)
        log.info("interview_recalled", session_id=str(self.session_id), segments=len(record.transcript),
                 next_sequence=record.next_sequence)

    # --- what this worker can run ------------------------------------------------------------------

    async def _prepare(self, plan: SessionPlan) -> str | None:
        """Choose the interviewer; the reason, in words, if this worker cannot run the session."""
        definition = plan.definition
        providers = definition.providers
        if providers.transport not in ("local", "daily"):
            return (f"unsupported_transport: this bot worker serves local (WebRTC) and Daily rooms; the config "
                    f"asks for {providers.transport}")
        if providers.transport == "daily" and (unavailable := daily_unavailable()) is not None:
            return unavailable
        if not definition.language.startswith("en"):
            return (f"unsupported_language: the bundled speech models speak English only; the config asks for "
                    f"{definition.language}")
        org_id = self.org_id
        assert org_id is not None
        speech = await choose_speech(definition, self._ctx.models, self._settings,
                                     lambda service: self._ctx.session_api.credential(org_id, service))
        if isinstance(speech, str):
            return speech
        interviewer: Interviewer = ScriptedInterviewer()
        if providers.llm.provider == "openai":
            assert self.org_id is not None
            key = await self._ctx.session_api.credential(self.org_id, "openai")
            if key is None:
                return "credential_missing: the config's LLM is 'openai' but the organisation has no OpenAI key"
            options = providers.llm.options
            client = OpenAiChatClient(
                str(options.get("baseUrl") or OPENAI_URL), str(options["model"]), key,
                temperature=float(options.get("temperature", 0.3)), http=httpx.AsyncClient(trust_env=False),
            )
            self._closers.append(client.aclose)
            interviewer = LlmInterviewer(client)
        assert self.org_id is not None
        self._interviewer = interviewer
        self._speech = speech
        self._passages = SessionPassages(self._ctx.session_api, self.org_id, plan.kb_ids)
        if providers.recording == "audio":
            self._recorder = Recorder(object_store(self._settings), self._settings.object_store_prefix, self.org_id,
                                      self.session_id, part_seconds=self._settings.recording_part_seconds)
        return None

    # --- serving the room ----------------------------------------------------------------------------

    async def _serve(self, plan: SessionPlan) -> JobResult:
        daily = plan.definition.providers.transport == "daily"
        if not daily and self._settings.ice_loopback_only:
            restrict_ice_to_loopback()
        negotiation = serve_negotiation(self._ctx.broker, self._settings.bus_namespace, self.session_id,
                                        self._negotiate)
        # The broker holds its subscribers weakly: this reference keeps it serving.
        self._negotiation: Any = negotiation
        try:
            await negotiation.start()
        except ChannelLockedResource:
            # Another live bot serves the session: this delivery is a copy of its job (RabbitMQ's
            # consumer_timeout is shorter than the interview and took the job back from that bot).
            # Not ours to run or to fail; the bot serving it finishes it.
            log.error("job_redelivered_while_served", session_id=str(self.session_id),
                      hint="set RabbitMQ's consumer_timeout above the longest interview")
            return JobResult("skipped", "served_by_another_bot")
        log.info("serving_session", session_id=str(self.session_id), transport=plan.definition.providers.transport)
        # In a Daily room the bot's pipeline is what waits for the candidate: if it ends (the bot could
        # not get into the room), nobody can arrive.
        waiting_gone = self._pipeline_done if daily else None
        try:
            if daily and (problem := await self._enter_room()) is not None:
                return await self._finish("failed", problem)
            joined = await self._wait_for(self._connected, self._settings.no_show_timeout_seconds, waiting_gone)
            if not joined and self._session_over.is_set():
                return JobResult("skipped", f"session_{self._session_status}")
            if not joined and self._ctx.shutting_down.is_set():
                # Nobody is in the room yet: another bot (or this one, restarted) can take the session.
                return JobResult("returned", "bot_shutdown")
            if not joined and waiting_gone is not None and waiting_gone.is_set():
                return await self._finish(*self._outcome())
            if not joined and plan.status == SessionStatus.ready:
                # The candidate pressed Start and never connected: the session stays ready for another Start.
                assert self._record is not None
                self._record.emit(BotReleased(session_id=self.session_id, bot_id=self._ctx.bot_id,
                                              reason="candidate_no_show"))
                return JobResult("released", "candidate_no_show")
            if not joined:  # a resumed interview whose candidate did not come back
                return await self._finish("failed", "candidate_no_show")
            ends_at = self._ctx.clock() + plan.definition.max_duration_minutes * 60 + self._settings.overrun_seconds
            while True:
                if not await self._wait_for(self._pipeline_done, ends_at - self._ctx.clock()):
                    if self._session_over.is_set():
                        self._cut_off = f"session_{self._session_status}"
                    elif self._ctx.shutting_down.is_set():
                        self._cut_off = "bot_shutdown"
                    else:
                        self._cut_off = "overrun"
                    await self._end_pipeline(self._cut_off)
                    break
                if not self._candidate_left or self._ctx.shutting_down.is_set() or self._session_over.is_set():
                    break
                log.info("waiting_for_rejoin", session_id=str(self.session_id),
                         seconds=self._settings.rejoin_grace_seconds)
                if daily:  # back into the room with a fresh pipeline, to be there when the candidate is
                    self._join_room()
                if not await self._wait_for(self._connected, self._settings.rejoin_grace_seconds, waiting_gone):
                    break
            return await self._finish(*self._outcome())
        finally:
            self._over = True
            with contextlib.suppress(Exception):
                await negotiation.stop()
            await self._end_pipeline("job_over")

    async def _wait_for(self, event: asyncio.Event, timeout: float,  # noqa: ASYNC109
                        unless: asyncio.Event | None = None) -> bool:
        """Wait for ``event``; False after ``timeout``, once ``unless`` is set, the session has ended elsewhere,
        or a shutdown's grace has passed."""
        deadline = self._ctx.clock() + timeout
        shutdown_deadline: float | None = None
        while not event.is_set():
            if (unless is not None and unless.is_set()) or self._session_over.is_set():
                return False
            now = self._ctx.clock()
            if self._ctx.shutting_down.is_set() and shutdown_deadline is None:
                shutdown_deadline = now + self._settings.shutdown_grace_seconds
            ends = min(deadline, shutdown_deadline) if shutdown_deadline is not None else deadline
            if now >= ends:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(0.5, ends - now))
        return True

    def _outcome(self) -> tuple[Literal["completed", "failed"], str]:
        interviewer = self._interview.interviewer if self._interview else None
        if interviewer is not None and interviewer.outcome is not None:
            return "completed", str(interviewer.outcome.reason)
        if self._interview is not None and self._interview.failure is not None:
            return "failed", self._interview.failure
        if self._candidate_left:
            return "completed", "candidate_disconnected"
        if self._cut_off is not None:
            return "failed", self._cut_off
        return "failed", "bot_error: the interview pipeline stopped unexpectedly"

    async def _negotiate(self, offer: NegotiateWebRtc, request: Envelope) -> Event:
        try:
            return await self._answer(offer)
        except Refused as refused:
            log.info("webrtc_offer_refused", session_id=str(self.session_id), code=refused.code)
            return WebRtcRefused(session_id=self.session_id, code=refused.code, message=refused.message)

    async def _answer(self, offer: NegotiateWebRtc) -> Event:
        if self._over or self._interviewer is None:
            raise Refused("not_serving_session", "This interview is over.")
        if self._plan is not None and self._plan.definition.providers.transport != "local":
            raise Refused("not_a_local_room", "This interview takes place in a Daily room: join it from the link.")
        current = self._connection
        if offer.pc_id is not None and current is not None and offer.pc_id == current.pc_id \
                and not self._candidate_left:
            await current.renegotiate(sdp=offer.sdp, type="offer", restart_pc=offer.restart_pc)
            return self._answered(current)
        if self._connected.is_set():
            raise Refused("peer_limit", "Someone is already connected to this interview.")
        if current is not None:  # an earlier peer that never connected, or that left: this one replaces it
            await self._end_pipeline("replaced_by_new_offer")
        self._pipeline_done.clear()
        received = time.monotonic()
        try:
            connection = await answer_offer(offer.sdp)
        except ValueError as e:
            raise Refused("invalid_sdp", f"The offer could not be used: {e}"[:500]) from e
        answered = time.monotonic()
        self._connection = connection
        self._start_pipeline(SmallWebRTCTransport(webrtc_connection=connection, params=transport_params()))
        log.info("webrtc_offer_answered", session_id=str(self.session_id), peer=offer.peer, pc_id=connection.pc_id,
                 answer_seconds=round(answered - received, 3), pipeline_seconds=round(time.monotonic() - answered, 3))
        return self._answered(connection)

    def _answered(self, connection: Any) -> WebRtcAnswered:
        answer = connection.get_answer()
        return WebRtcAnswered(session_id=self.session_id, sdp=answer["sdp"], pc_id=answer["pc_id"])

    async def _enter_room(self) -> str | None:
        """A Daily room: fetch it and the bot's token, then join it to wait; the reason if there is none."""
        assert self.org_id is not None
        room = await self._ctx.session_api.room(self.org_id, self.session_id)
        if room is None:
            return "room_not_found: session-svc has no live room for this session (not provisioned, or already over)"
        if room.provider != "daily" or not room.token:
            return f"room_not_daily: the config asks for a Daily room but the session's room is {room.provider}"
        self._room = room
        self._join_room()
        return None

    def _join_room(self) -> None:
        """A fresh pipeline whose Daily transport joins the room at once: the bot waits there for the candidate."""
        room, plan = self._room, self._plan
        assert room is not None and plan is not None
        self._pipeline_done.clear()
        transport = self._ctx.daily_transport(room, plan.definition.bot_name)
        interview = self._start_pipeline(transport)
        in_room = False
        # The pipeline's task runs from the next await on: these handlers are there before it joins.

        @transport.event_handler("on_joined")
        async def on_joined(_: Any, data: Any) -> None:
            nonlocal in_room
            in_room = True
            log.info("room_joined", session_id=str(self.session_id), room=room.name)

        @transport.event_handler("on_error")
        async def on_error(_: Any, error: str) -> None:
            if in_room or interview.failure is not None:
                log.warning("room_error", session_id=str(self.session_id), error=error)
                return
            # The bot never got into the room (a refused token, a room that is gone): nobody can meet it there.
            interview.failure = f"room_join_failed: {error}"[:500]
            log.error("room_join_failed", session_id=str(self.session_id), error=error)
            await interview.worker.cancel(reason="room_join_failed")

    def _start_pipeline(self, transport: BaseTransport) -> InterviewPipeline:
        """The interview's pipeline on ``transport``, running; its client events are the candidate's."""
        assert self._interviewer is not None and self._record is not None and self._plan is not None
        assert self._speech is not None
        record, definition = self._record, self._plan.definition
        rejoin = None
        if self._started_at is None and record.transcript:  # another bot began it: its time goes on
            self._started_at = self._ctx.clock() - max(s.end_ms for s in record.transcript) / 1000
        if self._started_at is not None:  # the candidate was here before: go on from there
            rejoin = Rejoin(record.past(), self._started_at, record.next_sequence)
        buffer = None
        if self._recorder is not None:
            buffer = self._recorder.processor(lambda: round((self._ctx.clock() - (self._started_at or 0)) * 1000))
        interview = build_pipeline(
            transport, self._speech.stt(), self._speech.tts(),
            InterviewEngine(definition, self._interviewer, self._passages), self.session_id, record,
            persona=definition.persona, tick_seconds=self._settings.tick_seconds,
            answer_pause_seconds=definition.answer_pause_seconds or self._settings.answer_pause_seconds,
            latencies=self._latencies,
            rejoin=rejoin,
            recorder=buffer,
            turns=self._turns,
        )
        self._turns = None
        self._interview = interview

        @transport.event_handler("on_client_connected")
        async def on_client_connected(_: Any, client: Any) -> None:
            if self._connected.is_set():  # someone else in the candidate's Daily room; or the same peer again
                return
            self._candidate = transport.get_client_id(client)
            self._connected.set()
            self._candidate_left = False
            if self._started_at is None:
                self._started_at = self._ctx.clock()
            if buffer is not None:  # from now: the recording's times are the transcript's
                await buffer.start_recording()
            if not self._joined:
                self._joined = True
                resumed = self._plan is not None and self._plan.status == SessionStatus.active
                record.emit(BotJoined(session_id=self.session_id, bot_id=self._ctx.bot_id, resumed=resumed))
            log.info("candidate_connected", session_id=str(self.session_id), rejoined=rejoin is not None)

        @transport.event_handler("on_client_disconnected")
        async def on_client_disconnected(_: Any, client: Any) -> None:
            if transport.get_client_id(client) != self._candidate:
                return
            if interview.interviewer.outcome is None:
                self._candidate_left = True
                self._connected.clear()
                log.info("candidate_disconnected", session_id=str(self.session_id))
                await interview.worker.cancel(reason="candidate_disconnected")

        async def run() -> None:
            runner = WorkerRunner(handle_sigint=False)
            try:
                await runner.add_workers(interview.worker)
                await runner.run()
            except Exception:
                log.exception("pipeline_failed", session_id=str(self.session_id))
            finally:
                if self._interview is interview:
                    self._pipeline_done.set()

        self._pipeline_task = asyncio.create_task(run(), name=f"pipeline-{self.session_id}")
        return interview

    async def _end_pipeline(self, reason: str) -> None:
        """Cancel the running pipeline (if any: its Daily transport leaves the room) and close its peer connection."""
        task, interview, connection = self._pipeline_task, self._interview, self._connection
        self._pipeline_task, self._connection = None, None
        if interview is not None and task is not None and not task.done():
            await interview.worker.cancel(reason=reason)
            try:
                await asyncio.wait_for(asyncio.shield(task), 10)
            except TimeoutError:
                task.cancel()
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.disconnect()

    # --- the end -------------------------------------------------------------------------------------

    async def _finish(self, outcome: Literal["completed", "failed"], reason: str) -> JobResult:
        ended = self._interview.interviewer.outcome if self._interview else None
        latencies, record = self._latencies, self._record
        assert record is not None
        asked = {(s.question_id, s.follow_up_index) for s in record.transcript
                 if s.speaker == "bot" and s.kind in ("question", "follow_up") and s.question_id}
        finished = BotFinished(
            session_id=self.session_id, bot_id=self._ctx.bot_id, outcome=outcome, reason=reason[:1000],
            latency_p50_ms=latencies.percentile_ms(50), latency_p95_ms=latencies.percentile_ms(95),
            # The engine's count when it ended the interview; otherwise what was heard being asked.
            questions_asked=ended.questions_asked if ended else len({q for q, n in asked if not n}),
            follow_ups_asked=ended.follow_ups_asked if ended else len({(q, n) for q, n in asked if n}),
            answers_received=record.answers,
        )
        record.emit(finished)
        await self._store_recording(record)
        log.info("interview_finished", session_id=str(self.session_id), outcome=outcome, reason=reason,
                 latency_p50_ms=finished.latency_p50_ms, latency_p95_ms=finished.latency_p95_ms,
                 turns=len(latencies.seconds), first_speech_seconds=latencies.first_speech_seconds)
        return JobResult(outcome, reason)

    async def _store_recording(self, record: Record) -> None:
        """After the interview: the pipeline flushes its last part, then every part becomes one file."""
        if self._recorder is None:
            return
        await self._end_pipeline("interview_over")
        try:
            stored = await self._recorder.finish(datetime.now(UTC))
        except Exception:  # the parts stay in the store; the session's deletion or retention removes them
            log.exception("recording_not_stored", session_id=str(self.session_id))
            return
        if stored is not None:
            record.emit(RecordingCompleted(session_id=self.session_id, object_key=stored.key,
                                           duration_ms=stored.duration_ms))

    async def _close(self) -> None:
        if self._greeting is not None and not self._greeting.done():
            self._greeting.cancel()
        if self._greeting is not None:
            await asyncio.gather(self._greeting, return_exceptions=True)
        if self._events is not None:
            await self._events.aclose()
        for close in self._closers:
            with contextlib.suppress(Exception):
                await close()
