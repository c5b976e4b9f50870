"""The long-lived bot worker process: warm models, one job at a time, heartbeats, recycling.

The job queue (``bot.jobs``, bound to ``session.dispatched``) is consumed with prefetch 1 and manual
acks: a job is acked only once its interview is over, so if this process dies mid-interview RabbitMQ
hands the job to another warm bot (up to the queue's delivery limit, then it is dead-lettered).
After ``max_interviews`` or past ``max_rss_mb`` the process stops consuming *before* it acks its last
job (so no new job is handed to a process that is leaving) and exits with ``EXIT_RECYCLE``;
``keeper.keep_warm`` (``voice bot``) then starts a fresh one. SIGTERM/SIGINT: stop taking jobs, let a
running interview go on for ``shutdown_grace_seconds``, then end it; a second signal exits at once.

Consumer timeout: RabbitMQ closes a channel whose delivery stays unacked longer than its
``consumer_timeout`` (30 minutes by default), which a long interview exceeds; set it above the
longest ``max_duration_minutes`` (240) where bots run.
"""

import asyncio
import contextlib
import os
import resource
import signal
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import structlog
from faststream.rabbit import RabbitBroker, RabbitMessage

from bot_orchestrator.worker import internal_api
from bot_orchestrator.worker.job import InterviewJob, JobResult, WorkerContext
from bot_orchestrator.worker.keeper import EXIT_RECYCLE
from bot_orchestrator.worker.models import Models, load_models
from bot_orchestrator.worker.settings import BotSettings
from voice_shared.bus import consume_instance, consume_jobs, make_broker, publish_envelope, subscription
from voice_shared.contracts import BotHeartbeat, Envelope, SessionDispatched, SessionEnded, SessionStarted, envelope
from voice_shared.internal_api import SessionApi, TranscriptApi
from voice_shared.logging import configure_logging

log = structlog.get_logger()

JOBS = subscription("bot", "jobs")
MB = 1024 * 1024
RETRY_PAUSE_SECONDS = 2.0  # before a job that could not start goes back to the queue

State = Literal["starting", "idle", "busy", "draining"]


def rss_bytes() -> int:
    """Resident memory now (Linux), else the peak."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class Job:
    env: Envelope
    started: SessionDispatched
    message: RabbitMessage


class BotWorker:
    """Consumes bot jobs one at a time until asked to stop or due for recycling."""

    def __init__(
        self, settings: BotSettings, models: Models, session_api: SessionApi | None = None,
        transcript_api: TranscriptApi | None = None,
    ) -> None:
        self.settings = settings
        self.models = models
        self.session_api = session_api or internal_api.session_api(settings)
        self.transcript_api = transcript_api or internal_api.transcript_api(settings)
        # The clients this worker made (and closes); the ones it was given belong to the caller.
        self._own_apis = [api for api, given in ((self.session_api, session_api), (self.transcript_api, transcript_api))
                          if given is None]
        self.broker: RabbitBroker = make_broker(settings)
        self.state: State = "starting"
        self.interviews_served = 0
        self.results: list[JobResult] = []
        self.current: InterviewJob | None = None
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._beats_now: set[asyncio.Task[None]] = set()  # heartbeats sent at once, greetings being prepared
        self._ctx = WorkerContext(settings, models, self.broker, self.session_api, self.transcript_api,
                                  self._publish, settings.bot_id)
        self._subscriber = consume_jobs(self.broker, settings.bus_namespace, JOBS, SessionDispatched)(self._on_job)
        # Told of every session's end, to let go of its own at once (cancelled while it waits, say).
        consume_instance(self.broker, settings.bus_namespace, f"bot.{settings.bot_id}.ended", SessionEnded)(
            self._on_session_ended)
        # Told of every invitation, to have the config's greeting ready before the candidate presses Start.
        consume_instance(self.broker, settings.bus_namespace, f"bot.{settings.bot_id}.invited", SessionStarted)(
            self._on_session_invited)

    @property
    def bot_id(self) -> str:
        return self.settings.bot_id

    def request_stop(self) -> None:
        """Stop taking jobs; a running interview ends within the shutdown grace."""
        self._stop.set()
        self._ctx.shutting_down.set()
        self.state = "draining"

    async def run(self) -> Literal["stopped", "recycle"]:
        """Serve jobs; returns why it stopped."""
        await self.broker.start()
        heartbeats = asyncio.create_task(self._beat(), name="bot-heartbeat")
        why: Literal["stopped", "recycle"] = "stopped"
        consuming = True
        try:
            self.state = "idle"
            await self._heartbeat()
            log.info("bot_ready", bot_id=self.bot_id, queue=JOBS.queue_name(self.settings.bus_namespace))
            self._in_background(self._prepare_invited(), "prepare-invited")
            while not self._stop.is_set():
                job = await self._next_job()
                if job is None:
                    break
                self.state = "busy"
                settle = await self._run_job(job)
                if self._recycle_due():
                    why = "recycle"
                    # Cancel the consumer before acking, so RabbitMQ hands the next job to another bot.
                    await self._subscriber.stop()
                    consuming = False
                    self._stop.set()
                try:
                    await settle()
                except Exception as e:  # the channel is gone (e.g. consumer_timeout): RabbitMQ has the job back
                    log.error("job_settle_failed", session_id=str(job.started.session_id),
                              error=f"{type(e).__name__}: {e}")
                self.state = "draining" if self._stop.is_set() else "idle"
                self._beat_now()
            self.state = "draining"
            await self._heartbeat()
        finally:
            if consuming:
                await self._subscriber.stop()
            while not self._jobs.empty():  # delivered, never started: back to the queue for another bot
                with contextlib.suppress(Exception):
                    await self._jobs.get_nowait().message.nack(requeue=True)
            heartbeats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeats
            await asyncio.gather(*self._beats_now, return_exceptions=True)
            await self.broker.stop()
            for api in self._own_apis:
                await api.aclose()
        log.info("bot_stopped", bot_id=self.bot_id, why=why, interviews_served=self.interviews_served)
        return why

    # --- jobs ------------------------------------------------------------------------------------------

    async def _on_job(self, started: SessionDispatched, env: Envelope, message: RabbitMessage) -> None:
        # Handed to the main loop, which acks when the interview is over (prefetch 1: nothing else
        # is delivered meanwhile).
        await self._jobs.put(Job(env, started, message))

    async def _on_session_ended(self, ended: SessionEnded, env: Envelope) -> None:
        if self.current is not None and self.current.session_id == ended.session_id:
            self.current.session_ended(ended.status)

    async def _on_session_invited(self, started: SessionStarted, env: Envelope) -> None:
        if self.state != "idle" or env.org_id is None or self.models.piper is None:
            return  # a busy bot keeps its CPU for its interview
        self._in_background(self._prepare_greeting(env.org_id, started), "prepare-greeting")

    def _in_background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._beats_now.add(task)
        task.add_done_callback(self._beats_now.discard)

    async def _prepare_invited(self) -> None:
        """A bot that comes up has the greetings of sessions invited before it ready too (while idle)."""
        if self.models.piper is None:
            return
        try:
            for greeting in await self.session_api.invited_greetings():
                if self.state != "idle":
                    return
                await self.models.lines.prepare(self.models.piper, greeting)
        except Exception as e:  # greetings are synthesised when they are said instead
            log.info("invited_greetings_not_prepared", error=f"{type(e).__name__}: {e}")

    async def _prepare_greeting(self, org_id: UUID, started: SessionStarted) -> None:
        try:
            plan = await self.session_api.plan(org_id, started.session_id)
            if plan is not None and plan.definition.providers.tts.provider == "piper":
                await self.models.lines.prepare(self.models.piper, plan.definition.greeting)
        except Exception as e:  # the greeting is synthesised when the interview starts instead
            log.info("greeting_not_prepared", session_id=str(started.session_id), error=f"{type(e).__name__}: {e}")

    async def _next_job(self) -> Job | None:
        getter = asyncio.ensure_future(self._jobs.get())
        stopper = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if getter.done():
            return getter.result()
        getter.cancel()
        return None

    async def _run_job(self, job: Job) -> Any:
        """Run the interview; returns how to settle the message (called once recycling is decided)."""
        session = str(job.started.session_id)
        redelivered = bool(job.message.raw_message.redelivered)
        self.current = InterviewJob(self._ctx, job.started, job.env, redelivered=redelivered)
        self._beat_now()  # the orchestrator sees the pick-up (queue, pool) at once, not at the next beat
        with structlog.contextvars.bound_contextvars(session_id=session, event_id=str(job.env.event_id)):
            try:
                result = await self.current.run()
            except Exception:
                # Nothing was decided (e.g. session-svc unreachable): the job goes back, and counts
                # toward the queue's delivery limit.
                log.exception("job_failed_before_start", session_id=session)
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                return lambda: job.message.reject(requeue=True)
            finally:
                self.current = None
        self.results.append(result)
        log.info("job_done", session_id=session, outcome=result.outcome, reason=result.reason)
        if result.outcome == "returned":
            return lambda: job.message.nack(requeue=True)
        if result.outcome in ("completed", "failed"):
            self.interviews_served += 1
        return job.message.ack

    def _recycle_due(self) -> bool:
        s = self.settings
        if s.max_interviews and self.interviews_served >= s.max_interviews:
            log.info("recycling", bot_id=self.bot_id, reason="max_interviews", served=self.interviews_served)
            return True
        if s.max_rss_mb and rss_bytes() > s.max_rss_mb * MB:
            log.info("recycling", bot_id=self.bot_id, reason="memory", rss_mb=rss_bytes() // MB)
            return True
        return False

    # --- heartbeats and events -------------------------------------------------------------------------

    async def _publish(self, env: Envelope) -> None:
        await publish_envelope(self.broker, self.settings.bus_namespace, env)

    def _beat_now(self) -> None:
        self._in_background(self._heartbeat(), "bot-heartbeat-now")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            await self._heartbeat()

    async def _heartbeat(self) -> None:
        job = self.current
        beat = BotHeartbeat(
            bot_id=self.bot_id, state=self.state, session_id=job.session_id if job else None,
            rss_bytes=rss_bytes(), interviews_served=self.interviews_served,
        )
        try:
            await self._publish(envelope(beat, org_id=job.org_id if job else None,
                                         session_id=job.session_id if job else None))
        except Exception as e:  # a missed beat is what the orchestrator watches for; not fatal here
            log.warning("heartbeat_failed", error=f"{type(e).__name__}: {e}")


# --- the process -------------------------------------------------------------------------------------


def configure_pipecat_logs(level: str) -> None:
    """Pipecat logs through loguru at DEBUG by default: keep its lines to ``level`` and above."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level=level.upper())


async def serve(settings: BotSettings) -> int:
    """Load the models, then serve jobs until stopped (0) or due for recycling (``EXIT_RECYCLE``)."""
    models = await asyncio.to_thread(load_models, settings)
    worker = BotWorker(settings, models)
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            log.warning("bot_forced_exit", bot_id=settings.bot_id)
            os._exit(1)  # the unacked job, if any, goes back to the queue
        log.info("bot_stopping", bot_id=settings.bot_id)
        worker.request_stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    why = await worker.run()
    return EXIT_RECYCLE if why == "recycle" else 0


def main() -> int:
    """``python -m bot_orchestrator.worker``: one worker process's lifetime."""
    settings = BotSettings()
    configure_logging(settings)
    configure_pipecat_logs(settings.pipecat_log_level)
    try:
        return asyncio.run(serve(settings))
    except Exception as e:
        log.exception("bot_failed", error=f"{type(e).__name__}: {e}")
        return 1
