"""The warm pool at work: bots known from their heartbeats, sessions from dispatch to a bot, and the
reconcile loop that carries the policy's decision out through the backend.

Every ``pool_reconcile_seconds`` one orchestrator (a transaction-scoped advisory lock: replicas take
turns, never act together) ends the bots that exited or fell silent (lost: a busy one's session goes
back to the queue when RabbitMQ sees its connection close, which ``kill`` makes sure of; ``bot.lost``
says so), asks the policy for the next step, starts and stops bots, and announces a change of size
(``pool.scaled``). Readiness waits until the warm target has been met once since start.
"""

import asyncio
import math
import statistics
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bot_orchestrator import repository as repo
from bot_orchestrator.metrics import PoolMetrics
from bot_orchestrator.models import BotInstance, PoolScheduleRow
from bot_orchestrator.pool.external import ExternalBackend
from bot_orchestrator.pool.policy import BotView, Decision, PoolLimits, Schedule, decide
from bot_orchestrator.pool.ports import BotBackend
from bot_orchestrator.settings import SCHEMA, OrchestratorSettings
from voice_shared.api.pool import BotPublic, PoolPublic, PoolSchedule, QueuePlace
from voice_shared.auth import Principal
from voice_shared.contracts import (
    BotHeartbeat,
    BotJoined,
    BotLost,
    BotReleased,
    Envelope,
    PoolScaled,
    SessionDispatched,
    SessionEnded,
    envelope,
)
from voice_shared.db import SessionMaker, transaction
from voice_shared.errors import Forbidden, NotFound
from voice_shared.outbox import add_to_outbox
from voice_shared.periodic import every

log = structlog.get_logger()

MB = 1024 * 1024
LIVE_STATES = ("starting", "idle", "busy", "draining")
DEFAULT_COLD_START_SECONDS = 10.0  # until the pool has measured its own
DEFAULT_INTERVIEW_SECONDS = 15 * 60.0


def require_platform_admin(principal: Principal) -> None:
    if not principal.platform_admin or principal.service is not None:
        raise Forbidden("The pool is for platform admins.", code="platform_admin_only")


class Pool:
    """The pool's state in the database and the loop that keeps it as the policy wants."""

    def __init__(self, db: SessionMaker, settings: OrchestratorSettings, backend: BotBackend,
                 metrics: PoolMetrics) -> None:
        self._db = db
        self._settings = settings
        self.backend = backend
        self.metrics = metrics
        self.limits = PoolLimits(
            min_idle=settings.pool_min_idle, max_bots=settings.pool_max_bots,
            max_interviews=settings.max_interviews, max_rss_bytes=settings.max_rss_mb * MB,
            scale_down_delay_seconds=settings.pool_scale_down_delay_seconds,
        )
        self.last: Decision | None = None
        self.warmed = False
        self._surplus_since: datetime | None = None
        self._stopping = asyncio.Event()

    # --- what the bus tells ------------------------------------------------------------------------

    async def on_heartbeat(self, beat: BotHeartbeat, env: Envelope) -> None:
        """A bot's state, as of its heartbeat (older beats than the last one seen change nothing)."""
        at = env.occurred_at
        async with transaction(self._db) as tx:
            row = await repo.bot(tx, beat.bot_id)
            if row is None:  # a bot this orchestrator did not start (Kubernetes, external): known from now
                row = BotInstance(id=beat.bot_id, backend=self.backend.name, state=beat.state, started_at=at)
            elif row.ended_at is not None or (row.last_seen_at is not None and at < row.last_seen_at):
                return
            row.state, row.last_seen_at = beat.state, at
            row.session_id = beat.session_id if beat.state == "busy" else None
            row.org_id = env.org_id if beat.state == "busy" else None
            row.interviews_served, row.rss_bytes = beat.interviews_served, beat.rss_bytes
            if beat.state == "idle" and row.warm_at is None:
                row.warm_at = at
                if (cold := _cold(row)) is not None:
                    self.metrics.cold_start.observe(cold)
                log.info("bot_warm", bot_id=row.id, cold_start_seconds=(at - row.started_at).total_seconds())
            tx.add(row)
            if beat.state == "busy" and beat.session_id is not None:
                assignment = await repo.current_assignment(tx, beat.session_id)
                if assignment is not None and assignment.picked_at is None:
                    assignment.picked_at, assignment.bot_id = at, beat.bot_id
                    tx.add(assignment)
                    self.metrics.pick_up.observe(max(0.0, (at - assignment.dispatched_at).total_seconds()))

    async def on_dispatched(self, job: SessionDispatched, env: Envelope) -> None:
        assert env.org_id is not None  # a tenant event: the consume path refuses one without an org
        async with transaction(self._db) as tx:
            await repo.add_assignment(tx, job.session_id, job.attempt, env.org_id, env.occurred_at)

    async def on_joined(self, joined: BotJoined, env: Envelope) -> None:
        async with transaction(self._db) as tx:
            assignment = await repo.current_assignment(tx, joined.session_id)
            if assignment is not None and assignment.joined_at is None:
                assignment.joined_at = env.occurred_at
                assignment.picked_at = assignment.picked_at or env.occurred_at
                assignment.bot_id = assignment.bot_id or joined.bot_id
                tx.add(assignment)

    async def on_released(self, released: BotReleased, env: Envelope) -> None:
        async with transaction(self._db) as tx:
            await repo.end_assignments(tx, released.session_id, env.occurred_at, "released")

    async def on_session_ended(self, ended: SessionEnded, env: Envelope) -> None:
        async with transaction(self._db) as tx:
            await repo.end_assignments(tx, ended.session_id, env.occurred_at, f"ended: {ended.status}")

    # --- the loop ------------------------------------------------------------------------------------

    async def run(self) -> None:
        await every(self._settings.pool_reconcile_seconds, self._stopping, self.reconcile_once,
                    "pool_reconcile_failed")

    def stop(self) -> None:
        self._stopping.set()

    async def reconcile_once(self, now: datetime | None = None) -> Decision | None:
        """One step; None when another orchestrator holds the pool this turn."""
        now = now or datetime.now(UTC)
        exited = set(await self.backend.exited())
        to_kill: list[str] = []
        async with transaction(self._db) as tx:
            if not await repo.try_lead(tx):
                return None
            bots = await repo.live_bots(tx, lock=True)
            for bot in bots:
                why = self._ended(bot, exited, now)
                if why is None:
                    continue
                lost = why != "exited" or bot.state == "busy"
                bot.state, bot.ended_at, bot.end_reason = ("lost" if lost else "gone"), now, why
                tx.add(bot)
                if why != "exited":
                    to_kill.append(bot.id)
                if lost:
                    self.metrics.lost.labels(why).inc()
                    log.warning("bot_lost", bot_id=bot.id, reason=why, session_id=str(bot.session_id))
                    await add_to_outbox(tx, SCHEMA, envelope(
                        BotLost(bot_id=bot.id, session_id=bot.session_id,
                                last_heartbeat_at=bot.last_seen_at or bot.started_at),
                        org_id=bot.org_id, session_id=bot.session_id))
            alive = [b for b in bots if b.ended_at is None]
            if isinstance(self.backend, ExternalBackend):
                self.backend.running = len(alive)
            waiting, _ = await repo.waiting(tx)
            schedule = await self.schedule(tx)
            decision = decide(
                [BotView(b.id, b.state, b.started_at, b.interviews_served, b.rss_bytes)  # type: ignore[arg-type]
                 for b in alive if b.state in LIVE_STATES],
                actual=await self.backend.size(), waiting=waiting, limits=self.limits, schedule=schedule,
                now=now, surplus_since=self._surplus_since,
            )
            self._surplus_since = decision.surplus_since
            step = decision.scaling
            started: list[str] = []
            if step.start or step.stop or step.replicas != decision.actual or step.busy:
                started = await self.backend.scale(step)
            for bot_id in started:
                tx.add(BotInstance(id=bot_id, backend=self.backend.name, state="starting", started_at=now))
            for bot in alive:
                if bot.id in step.stop:
                    bot.state = "draining"
                    tx.add(bot)
            if step.replicas != decision.actual:
                log.info("pool_scaled", actual=decision.actual, replicas=step.replicas, reason=decision.reason,
                         started=started, stopped=list(step.stop), waiting=waiting)
                await add_to_outbox(tx, SCHEMA, envelope(PoolScaled(
                    desired=decision.desired, busy=len(step.busy),
                    idle=sum(b.state == "idle" for b in alive), reason=str(decision.reason)), org_id=None))
            idle = sum(b.state == "idle" and b.id not in step.stop for b in alive)
            if idle >= decision.warm_target:
                self.warmed = True
            self.metrics.reconciled(decision, [b.state for b in alive], waiting, self.limits.max_bots)
        for bot_id in to_kill:
            await self.backend.kill(bot_id)
        self.last = decision
        return decision

    def _ended(self, bot: BotInstance, exited: set[str], now: datetime) -> str | None:
        """Why the bot is no more (exited, silent, never warmed), or None."""
        if bot.id in exited:
            return "exited"
        s = self._settings
        if bot.last_seen_at is None:
            limit = timedelta(seconds=s.pool_start_timeout_seconds)
            return "start_timeout" if now - bot.started_at > limit else None
        if now - bot.last_seen_at > timedelta(seconds=s.pool_heartbeat_timeout_seconds):
            return "heartbeat_timeout"
        return None

    # --- what others ask -------------------------------------------------------------------------------

    async def schedule(self, tx: AsyncSession) -> Schedule:
        row = await repo.schedule(tx)
        return Schedule.model_validate(row.schedule) if row else Schedule()

    async def set_schedule(self, principal: Principal, body: PoolSchedule) -> PoolPublic:
        """A platform admin's new schedule: the next reconcile (within a second) follows it."""
        require_platform_admin(principal)
        async with transaction(self._db) as tx:
            row = await repo.schedule(tx) or PoolScheduleRow(schedule={}, updated_by="", updated_at=datetime.now(UTC))
            row.schedule = body.model_dump(mode="json")
            row.updated_by, row.updated_at = principal.sub, datetime.now(UTC)
            tx.add(row)
        log.info("pool_schedule_set", by=principal.sub, enabled=body.enabled)
        return await self.public(principal)

    async def queue_place(self, principal: Principal, org_id: UUID, session_id: UUID) -> QueuePlace:
        """Where a dispatched session waits for a bot (404 when it does not wait)."""
        if principal.service is None:
            raise Forbidden("Only service identities may call internal endpoints.", code="service_only")
        async with transaction(self._db) as tx:
            assignment = await repo.current_assignment(tx, session_id)
            if (assignment is None or assignment.org_id != org_id or assignment.picked_at is not None
                    or assignment.ended_at is not None):
                raise NotFound("The session is not waiting for a bot.", code="not_waiting")
            ahead = await repo.ahead_of(tx, assignment.dispatched_at)
            waiting, _ = await repo.waiting(tx)
            bots = await repo.live_bots(tx)
            cold = [_cold(b) for b in await repo.recent_cold_starts(tx)]
            lengths = await repo.recent_interview_seconds(tx)
        position = ahead + 1
        estimate = self._estimate(position, bots, [c for c in cold if c is not None], lengths)
        return QueuePlace(position=position, waiting=max(waiting, position), estimated_wait_seconds=estimate,
                          dispatched_at=assignment.dispatched_at)

    def _estimate(self, position: int, bots: list[BotInstance], cold: list[float], lengths: list[float]) -> float:
        """Seconds until a bot takes the session at ``position``: a bot on its way (starting, or one the pool
        may still start) takes one of the first; the rest wait for busy bots to finish."""
        now = datetime.now(UTC)
        cold_start = statistics.median(cold) if cold else DEFAULT_COLD_START_SECONDS
        starting = [b for b in bots if b.state == "starting"]
        # Bots the pool may still start (none where something else runs them).
        room = 0 if isinstance(self.backend, ExternalBackend) else \
            max(0, self.limits.max_bots - len([b for b in bots if b.state in LIVE_STATES]))
        if position <= len(starting) + room:
            return cold_start
        length = statistics.median(lengths) if lengths else DEFAULT_INTERVIEW_SECONDS
        busy = sorted(max(30.0, length - (now - (b.last_seen_at or b.started_at)).total_seconds())
                      for b in bots if b.state == "busy")
        if not busy:
            return cold_start
        rank = position - len(starting) - room  # 1: the first busy bot to finish takes it
        rounds, index = divmod(rank - 1, len(busy))
        return busy[index] + rounds * length

    async def public(self, principal: Principal) -> PoolPublic:
        require_platform_admin(principal)
        now = datetime.now(UTC)
        async with transaction(self._db) as tx:
            bots = await repo.live_bots(tx)
            waiting, oldest = await repo.waiting(tx)
            schedule = await self.schedule(tx)
            cold = [c for c in (_cold(b) for b in await repo.recent_cold_starts(tx)) if c is not None]
            picks = await repo.recent_pick_ups(tx)
        decision = self.last
        by_state: dict[str, int] = {}
        for bot in bots:
            by_state[bot.state] = by_state.get(bot.state, 0) + 1
        return PoolPublic(
            backend=self.backend.name,
            bots=[BotPublic(id=b.id, backend=b.backend, state=b.state,
                            session_id=str(b.session_id) if b.session_id else None, started_at=b.started_at,
                            cold_start_seconds=_cold(b), last_seen_at=b.last_seen_at,
                            interviews_served=b.interviews_served, rss_bytes=b.rss_bytes) for b in bots],
            by_state=by_state, waiting=waiting,
            oldest_wait_seconds=(now - oldest).total_seconds() if oldest else None,
            warm_target=decision.warm_target if decision else schedule.warm_target(now, self.limits.min_idle),
            desired=decision.desired if decision else 0, actual=decision.actual if decision else 0,
            reason=str(decision.reason) if decision else "starting", warmed=self.warmed,
            min_idle=self.limits.min_idle, max_bots=self.limits.max_bots, schedule=schedule,
            in_hours=schedule.in_hours_at(now) if schedule.enabled else None,
            next_change=schedule.next_change(now),
            recent_cold_starts_seconds=cold,
            pick_up_p50_seconds=_percentile(picks, 50), pick_up_p95_seconds=_percentile(picks, 95),
        )


def _cold(bot: BotInstance) -> float | None:
    if bot.warm_at is None or bot.warm_at <= bot.started_at:
        return None
    return round((bot.warm_at - bot.started_at).total_seconds(), 3)


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1], 3)
