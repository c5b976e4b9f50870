"""The warm pool's policy: how many bots there should be and which idle ones to let go; no clock and no I/O.

State in (the bots' heartbeats, the runtime's count, the queue, the time passed in), a ``Decision`` out whose
``Scaling`` a ``BotBackend`` carries out. The rules:

- ``warm_target`` bots are kept warm: ``PoolLimits.min_idle``, or, when the ``Schedule`` is enabled, its
  ``in_hours`` / ``out_of_hours`` value, which *replaces* ``min_idle`` (it may be lower).
- desired = busy + waiting + warm target, capped at ``max_bots``.
- More desired than the runtime has: the difference is started at once.
- More than desired: idle bots are stopped, oldest first, but only when no bot is starting (a Kubernetes
  ReplicaSet deletes not-ready pods first, so shrinking then could kill the new pod instead of the idle one)
  and only once the surplus has lasted ``scale_down_delay_seconds``. Busy, starting and draining bots are
  never stopped.
- An idle bot past its interview or memory limit is no capacity: it is stopped and replaced in the same step,
  whatever the delay. When the pool is allowed to shrink, such bots are let go first and not replaced. A busy
  bot past its limits is left alone: the worker recycles itself after its interview.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from bot_orchestrator.pool.ports import Scaling
from voice_shared.api.pool import PoolSchedule

BotState = Literal["starting", "idle", "busy", "draining"]

class Schedule(PoolSchedule):
    """Business hours for the warm pool (``PoolSchedule``, as platform admins edit it), read at an instant.

    When enabled, the schedule's value replaces ``min_idle``. Times are wall-clock times in ``timezone``, so
    the window follows daylight saving time.
    """

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def in_hours_at(self, now: datetime) -> bool:
        """Whether ``now`` falls in business hours (whether or not the schedule is enabled).

        Read on the local wall clock: a start or end in the hour repeated when the clocks go back is crossed
        twice, and one in the hour skipped when they go forward is crossed at the change.
        """
        local = _aware(now, "now").astimezone(self.zone)
        return local.isoweekday() in self.weekdays and self.start <= local.time() < self.end

    def warm_target(self, now: datetime, min_idle: int) -> int:
        """The warm bots wanted at ``now``: the schedule's value when enabled, else ``min_idle``."""
        _aware(now, "now")
        if not self.enabled:
            return min_idle
        return self.in_hours if self.in_hours_at(now) else self.out_of_hours

    def next_change(self, now: datetime) -> datetime | None:
        """The first moment after ``now`` the warm target changes, in UTC; None if it never does.

        UTC because Python compares and subtracts two datetimes of one zone by wall time, wrong across a DST
        change; convert with ``astimezone(schedule.zone)`` to show it.
        """
        after = _aware(now, "now").astimezone(UTC)
        if not self.enabled or self.in_hours == self.out_of_hours or not self.weekdays:
            return None
        today = after.astimezone(self.zone).date()
        # A week and a day ahead holds the next boundary whatever the weekdays; the day before catches a
        # boundary that a daylight saving gap pushes past midnight.
        candidates = sorted(
            {moment for days in range(-1, 9) for moment in self._boundaries(today + timedelta(days=days))
             if moment > after}
        )
        current = self.in_hours_at(after)
        return next((moment for moment in candidates if self.in_hours_at(moment) != current), None)

    def _boundaries(self, day: date) -> list[datetime]:
        """The UTC instants at which the local clock reaches (or jumps across) ``day``'s start and end."""
        if day.isoweekday() not in self.weekdays:
            return []
        return [moment for wall in (self.start, self.end)
                for moment in _instants(datetime.combine(day, wall), self.zone)]


@dataclass(frozen=True)
class PoolLimits:
    """The pool's bounds; a zero limit is no limit."""

    min_idle: int
    max_bots: int
    max_interviews: int = 0  # interviews a bot serves before it is replaced
    max_rss_bytes: int = 0  # resident memory at which an idle bot is replaced
    scale_down_delay_seconds: float = 0.0  # how long a surplus must last before idle bots are stopped

    def __post_init__(self) -> None:
        if self.min_idle < 0:
            raise ValueError(f"min_idle must be 0 or more, not {self.min_idle}")
        if self.max_bots < 1:
            raise ValueError(f"max_bots must be at least 1, not {self.max_bots}")
        if self.max_interviews < 0 or self.max_rss_bytes < 0:
            raise ValueError("max_interviews and max_rss_bytes must be 0 (no limit) or more")
        if not self.scale_down_delay_seconds >= 0:  # also refuses NaN
            raise ValueError(f"scale_down_delay_seconds must be 0 or more, not {self.scale_down_delay_seconds}")

    def past_limits(self, bot: "BotView") -> bool:
        """Whether ``bot`` has served its interviews or grown to its memory limit."""
        return (0 < self.max_interviews <= bot.interviews_served) or (0 < self.max_rss_bytes <= bot.rss_bytes)


@dataclass(frozen=True)
class BotView:
    """A bot as its last heartbeat describes it."""

    bot_id: str
    state: BotState
    started_at: datetime
    interviews_served: int = 0
    rss_bytes: int = 0

    def __post_init__(self) -> None:
        _aware(self.started_at, "started_at")


class ScaleReason(StrEnum):
    """Why a step looks as it does, judged by what it does to the pool's size."""

    steady = "steady"  # the pool has the bots it should
    demand = "demand"  # grows: candidates are waiting for a bot
    schedule = "schedule"  # grows: to keep the schedule's warm target
    warm = "warm"  # grows: to keep min_idle bots warm
    capped = "capped"  # would grow past max_bots: grows to the cap, or stays at it
    scale_down = "scale_down"  # shrinks: idle bots above the target stopped
    recycle = "recycle"  # same size: idle bots past their limits swapped for new ones
    held = "held"  # more bots than desired, none stopped yet: the delay runs, a bot starts, or none is idle


@dataclass(frozen=True)
class Decision:
    """One reconcile step: the numbers it was made from, the ``Scaling`` to carry out, and why."""

    warm_target: int
    desired: int
    actual: int
    scaling: Scaling
    reason: ScaleReason
    surplus_since: datetime | None  # pass it back on the next call


def decide(
    bots: Iterable[BotView],
    *,
    actual: int,
    waiting: int,
    limits: PoolLimits,
    schedule: Schedule,
    now: datetime,
    surplus_since: datetime | None,
) -> Decision:
    """The pool's next step from the bots' states, the runtime's count and the jobs waiting for a bot.

    ``actual`` may exceed the bots heard from: those not heard from as busy, idle or starting are taken for
    starting. A draining bot the runtime still counts thus holds back shrinking until it is gone, which errs
    on the safe side; one it no longer counts (a terminating pod) changes nothing.
    """
    _aware(now, "now")
    if surplus_since is not None:
        _aware(surplus_since, "surplus_since")
    if actual < 0 or waiting < 0:
        raise ValueError(f"actual and waiting must be 0 or more, not {actual} and {waiting}")
    views = sorted(bots, key=_oldest_first)
    busy = [bot for bot in views if bot.state == "busy"]
    idle = [bot for bot in views if bot.state == "idle"]
    heard_starting = sum(bot.state == "starting" for bot in views)
    starting = max(heard_starting, actual - len(busy) - len(idle))
    worn = [bot for bot in idle if limits.past_limits(bot)]
    fresh = [bot for bot in idle if not limits.past_limits(bot)]

    target = schedule.warm_target(now, limits.min_idle)
    wanted = len(busy) + waiting + target
    desired = min(wanted, limits.max_bots)
    surplus = actual - desired
    since = (surplus_since or now) if surplus > 0 else None
    may_shrink = starting == 0 and since is not None and _seconds(since, now) >= limits.scale_down_delay_seconds
    shrink = min(surplus, len(idle)) if may_shrink else 0
    # Bots past their limits go first when shrinking: they are stopped either way, and are not replaced then.
    stop = worn + fresh[: max(0, shrink - len(worn))]
    start = max(0, desired - actual) + max(0, len(worn) - shrink)
    replicas = actual + start - len(stop)

    if replicas < actual:
        reason = ScaleReason.scale_down
    elif replicas > actual:
        reason = (ScaleReason.capped if wanted > limits.max_bots else ScaleReason.demand if waiting
                  else ScaleReason.schedule if schedule.enabled else ScaleReason.warm)
    elif stop:
        reason = ScaleReason.recycle
    elif surplus > 0:
        reason = ScaleReason.held
    elif wanted > limits.max_bots:
        reason = ScaleReason.capped
    else:
        reason = ScaleReason.steady
    return Decision(
        warm_target=target,
        desired=desired,
        actual=actual,
        scaling=Scaling(
            replicas=replicas,
            start=start,
            stop=tuple(bot.bot_id for bot in sorted(stop, key=_oldest_first)),
            busy=tuple(bot.bot_id for bot in busy),
        ),
        reason=reason,
        surplus_since=since if replicas > desired else None,
    )


def _instants(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants at which the clock in ``zone`` reaches the naive wall time ``wall``, or jumps across it.

    Usually one. A wall time repeated when the clocks go back is reached twice, and the clock jumps back
    across it in between; one skipped when they go forward is jumped across at the change itself.
    """
    first, second = (wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    if first == second:
        return [first]
    return [first, second, _offset_change(min(first, second), max(first, second), zone)]


def _offset_change(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant ``zone``'s UTC offset changes between ``before`` and ``after`` (which differ in offset)."""
    old = before.astimezone(zone).utcoffset()
    while after - before > timedelta(microseconds=1):
        middle = before + (after - before) / 2
        if middle.astimezone(zone).utcoffset() == old:
            before = middle
        else:
            after = middle
    return after


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
    return value


def _seconds(since: datetime, now: datetime) -> float:
    # In UTC: between two datetimes of one zone Python subtracts wall times, wrong across a DST change.
    return (now.astimezone(UTC) - since.astimezone(UTC)).total_seconds()


def _oldest_first(bot: BotView) -> tuple[datetime, str]:
    return bot.started_at.astimezone(UTC), bot.bot_id
