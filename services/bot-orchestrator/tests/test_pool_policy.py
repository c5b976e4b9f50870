"""The warm pool's policy: how many bots, which idle ones to stop, and the business-hours schedule across DST."""

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot_orchestrator.pool.policy import BotState, BotView, Decision, PoolLimits, ScaleReason, Schedule, decide
from bot_orchestrator.pool.ports import Scaling

NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
LIMITS = PoolLimits(min_idle=2, max_bots=10)
OFF = Schedule()
BUSINESS = Schedule(enabled=True)  # Monday to Friday, 09:00-17:00 New York: 5 warm, else 1


def bot(state: BotState = "idle", *, age_minutes: float = 10, interviews: int = 0, rss: int = 0) -> BotView:
    return BotView(
        bot_id=f"bot-{uuid.uuid4().hex[:8]}", state=state, started_at=T0 - timedelta(minutes=age_minutes),
        interviews_served=interviews, rss_bytes=rss,
    )


def step(
    bots: list[BotView],
    *,
    actual: int | None = None,
    waiting: int = 0,
    limits: PoolLimits = LIMITS,
    schedule: Schedule = OFF,
    now: datetime = T0,
    surplus_since: datetime | None = None,
) -> Decision:
    return decide(
        bots, actual=len(bots) if actual is None else actual, waiting=waiting, limits=limits,
        schedule=schedule, now=now, surplus_since=surplus_since,
    )


def ny(year: int, month: int, day: int, hour: int, minute: int, second: int = 0, *, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK, fold=fold)


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- how many bots -------------------------------------------------------------------------------------


def test_an_empty_pool_starts_min_idle_bots() -> None:
    decision = step([])

    assert decision.scaling == Scaling(replicas=2, start=2)
    assert (decision.warm_target, decision.desired, decision.actual) == (2, 2, 0)
    assert decision.reason == ScaleReason.warm


def test_an_empty_pool_with_no_warm_bots_wanted_stays_empty() -> None:
    decision = step([], limits=PoolLimits(min_idle=0, max_bots=10))

    assert decision.scaling == Scaling(replicas=0)
    assert decision.reason == ScaleReason.steady


def test_desired_is_busy_plus_waiting_plus_warm_target() -> None:
    busy = [bot("busy", age_minutes=m) for m in (30, 20, 10)]

    decision = step([*busy, bot("idle")], waiting=2)

    assert decision.desired == 3 + 2 + 2
    assert decision.scaling == Scaling(replicas=7, start=3, busy=tuple(b.bot_id for b in busy))
    assert decision.reason == ScaleReason.demand


def test_bots_taken_by_interviews_are_replaced_to_keep_the_pool_warm() -> None:
    decision = step([bot("busy"), bot("idle")])

    assert decision.scaling.start == 1
    assert decision.reason == ScaleReason.warm


def test_a_pool_with_what_it_needs_is_steady() -> None:
    decision = step([bot("busy"), bot("idle"), bot("idle")])

    assert decision.scaling.replicas == 3
    assert (decision.scaling.start, decision.scaling.stop) == (0, ())
    assert decision.reason == ScaleReason.steady


def test_bots_not_heard_from_yet_count_as_starting() -> None:
    decision = step([], actual=2)

    assert decision.scaling == Scaling(replicas=2)
    assert decision.reason == ScaleReason.steady


@pytest.mark.parametrize(
    ("busy", "actual", "start", "reason"),
    [
        (7, 7, 3, ScaleReason.capped),  # 7 + 4 waiting + 2 warm wanted: grows to the cap
        (7, 10, 0, ScaleReason.capped),  # already at the cap
    ],
)
def test_desired_is_capped_at_max_bots(busy: int, actual: int, start: int, reason: ScaleReason) -> None:
    decision = step([bot("busy") for _ in range(busy)], actual=actual, waiting=4)

    assert decision.desired == 10
    assert (decision.scaling.replicas, decision.scaling.start) == (10, start)
    assert decision.reason == reason


def test_the_schedule_target_replaces_min_idle() -> None:
    decision = step([], schedule=BUSINESS, limits=PoolLimits(min_idle=7, max_bots=10))

    assert decision.warm_target == 5
    assert decision.scaling == Scaling(replicas=5, start=5)
    assert decision.reason == ScaleReason.schedule


def test_the_schedule_out_of_hours_shrinks_the_pool() -> None:
    evening = utc(2026, 3, 2, 23, 0)  # Monday 18:00 in New York

    decision = step([bot("idle", age_minutes=m) for m in (50, 40, 30, 20, 10)], schedule=BUSINESS, now=evening)

    assert decision.warm_target == 1
    assert decision.scaling.replicas == 1
    assert decision.reason == ScaleReason.scale_down


# --- which bots are stopped ----------------------------------------------------------------------------


def test_the_oldest_idle_bots_are_stopped_first() -> None:
    middle, newest, oldest, older = (bot("idle", age_minutes=m) for m in (30, 10, 50, 40))

    decision = step([middle, newest, oldest, older])

    assert decision.scaling == Scaling(replicas=2, stop=(oldest.bot_id, older.bot_id))
    assert decision.reason == ScaleReason.scale_down


@pytest.mark.parametrize("other", ["busy", "draining"])
def test_only_idle_bots_are_stopped(other: BotState) -> None:
    old_others = [bot(other, age_minutes=100) for _ in range(3)]
    young_idle = bot("idle", age_minutes=1)
    limits = PoolLimits(min_idle=0, max_bots=10)
    # A draining bot the runtime no longer counts: a terminating pod.
    actual = 4 if other == "busy" else 1

    decision = step([*old_others, young_idle], actual=actual, limits=limits)

    assert decision.scaling.stop == (young_idle.bot_id,)
    assert decision.reason == ScaleReason.scale_down


def test_busy_bots_are_never_stopped_even_above_the_cap() -> None:
    busy = [bot("busy", age_minutes=m) for m in (40, 30, 20, 10)]

    decision = step(busy, limits=PoolLimits(min_idle=0, max_bots=2))

    assert decision.scaling == Scaling(replicas=4, busy=tuple(b.bot_id for b in busy))
    assert decision.reason == ScaleReason.held


def test_busy_bots_are_listed_oldest_first() -> None:
    young, old = bot("busy", age_minutes=1), bot("busy", age_minutes=90)

    assert step([young, old]).scaling.busy == (old.bot_id, young.bot_id)


@pytest.mark.parametrize(
    ("bots", "actual"),
    [
        ([bot("idle"), bot("idle"), bot("idle"), bot("starting")], 4),
        ([bot("idle"), bot("idle"), bot("idle")], 4),  # the fourth has not sent a heartbeat yet
        ([bot("idle"), bot("idle"), bot("idle"), bot("draining")], 4),  # draining, still counted by the runtime
    ],
    ids=["starting", "not-heard-from", "draining-still-counted"],
)
def test_no_bot_is_stopped_while_one_is_starting(bots: list[BotView], actual: int) -> None:
    decision = step(bots, actual=actual)

    assert decision.scaling == Scaling(replicas=actual)
    assert decision.reason == ScaleReason.held
    assert decision.surplus_since == T0


def test_the_pool_grows_while_a_bot_is_starting() -> None:
    decision = step([bot("idle"), bot("starting")], waiting=2)

    assert decision.scaling == Scaling(replicas=4, start=2)
    assert decision.reason == ScaleReason.demand


# --- the scale-down delay ------------------------------------------------------------------------------


def test_a_surplus_must_last_the_delay_before_idle_bots_are_stopped() -> None:
    limits = PoolLimits(min_idle=1, max_bots=10, scale_down_delay_seconds=300)
    old, young = bot("idle", age_minutes=20), bot("idle", age_minutes=5)

    first = step([old, young], limits=limits)
    later = step([old, young], limits=limits, now=T0 + timedelta(seconds=299), surplus_since=first.surplus_since)
    done = step([old, young], limits=limits, now=T0 + timedelta(seconds=300), surplus_since=later.surplus_since)

    assert (first.reason, first.scaling, first.surplus_since) == (ScaleReason.held, Scaling(replicas=2), T0)
    assert (later.reason, later.surplus_since) == (ScaleReason.held, T0)
    assert done.scaling == Scaling(replicas=1, stop=(old.bot_id,))
    assert (done.reason, done.surplus_since) == (ScaleReason.scale_down, None)


def test_the_delay_starts_again_when_the_surplus_goes_away() -> None:
    limits = PoolLimits(min_idle=1, max_bots=10, scale_down_delay_seconds=300)
    idle = [bot("idle"), bot("idle")]

    surplus = step(idle, limits=limits)
    gone = step(idle, waiting=1, limits=limits, now=T0 + timedelta(seconds=200), surplus_since=surplus.surplus_since)
    again = step(idle, limits=limits, now=T0 + timedelta(seconds=400), surplus_since=gone.surplus_since)

    assert gone.surplus_since is None
    assert (again.reason, again.surplus_since) == (ScaleReason.held, T0 + timedelta(seconds=400))


def test_a_surplus_with_no_idle_bot_to_stop_keeps_its_start() -> None:
    limits = PoolLimits(min_idle=0, max_bots=1)
    busy = [bot("busy"), bot("busy")]

    decision = step(busy, limits=limits, surplus_since=T0 - timedelta(minutes=5))

    assert (decision.reason, decision.surplus_since) == (ScaleReason.held, T0 - timedelta(minutes=5))


def test_the_delay_is_measured_in_real_time_across_the_fall_back() -> None:
    limits = PoolLimits(min_idle=0, max_bots=10, scale_down_delay_seconds=15 * 60)
    since = ny(2026, 11, 1, 1, 50)  # EDT
    now = ny(2026, 11, 1, 1, 10, fold=1)  # EST, 20 minutes later though the wall clock went back

    decision = step([bot("idle")], limits=limits, now=now, surplus_since=since)

    assert decision.reason == ScaleReason.scale_down


# --- recycling bots past their limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "worn_out"),
    [
        (PoolLimits(min_idle=2, max_bots=10, max_interviews=20), {"interviews": 20}),
        (PoolLimits(min_idle=2, max_bots=10, max_rss_bytes=2_000_000_000), {"rss": 2_000_000_000}),
    ],
    ids=["interviews", "memory"],
)
def test_an_idle_bot_past_its_limits_is_replaced_at_once(limits: PoolLimits, worn_out: dict[str, Any]) -> None:
    limits = PoolLimits(**{**vars(limits), "scale_down_delay_seconds": 600})
    spent, fresh = bot("idle", **worn_out), bot("idle")

    decision = step([spent, fresh], limits=limits)

    assert decision.scaling == Scaling(replicas=2, start=1, stop=(spent.bot_id,))
    assert decision.reason == ScaleReason.recycle


def test_bots_below_their_limits_or_without_limits_are_kept() -> None:
    limited = PoolLimits(min_idle=2, max_bots=10, max_interviews=20, max_rss_bytes=2_000_000_000)
    unlimited = PoolLimits(min_idle=2, max_bots=10)

    below = step([bot(interviews=19), bot(rss=1_999_999_999)], limits=limited)
    without = step([bot(interviews=10_000), bot(rss=2**40)], limits=unlimited)

    assert below.reason == without.reason == ScaleReason.steady


def test_a_busy_bot_past_its_limits_is_left_alone() -> None:
    limits = PoolLimits(min_idle=1, max_bots=10, max_interviews=20)
    spent = bot("busy", interviews=25)

    decision = step([spent, bot("idle")], limits=limits)

    assert decision.scaling == Scaling(replicas=2, busy=(spent.bot_id,))
    assert decision.reason == ScaleReason.steady


def test_a_bot_past_its_limits_is_replaced_while_another_starts() -> None:
    limits = PoolLimits(min_idle=2, max_bots=10, max_interviews=20)
    spent = bot("idle", interviews=20)

    decision = step([spent, bot("idle"), bot("starting")], limits=limits)

    assert decision.scaling == Scaling(replicas=3, start=1, stop=(spent.bot_id,))


def test_a_bot_past_its_limits_is_replaced_on_top_of_growth() -> None:
    limits = PoolLimits(min_idle=2, max_bots=10, max_interviews=20)
    spent = bot("idle", interviews=20)

    decision = step([spent, bot("idle")], waiting=1, limits=limits)

    assert decision.scaling == Scaling(replicas=3, start=2, stop=(spent.bot_id,))
    assert decision.reason == ScaleReason.demand


def test_a_bot_past_its_limits_is_let_go_first_and_not_replaced_when_the_pool_shrinks() -> None:
    limits = PoolLimits(min_idle=1, max_bots=10, max_interviews=20)
    old, spent_young = bot("idle", age_minutes=60), bot("idle", age_minutes=5, interviews=20)

    decision = step([old, spent_young], limits=limits)

    assert decision.scaling == Scaling(replicas=1, stop=(spent_young.bot_id,))
    assert decision.reason == ScaleReason.scale_down


def test_bots_past_their_limits_beyond_the_surplus_are_replaced() -> None:
    limits = PoolLimits(min_idle=2, max_bots=10, max_interviews=20)
    spent = [bot("idle", age_minutes=m, interviews=20) for m in (30, 20)]
    fresh = bot("idle", age_minutes=10)

    decision = step([*spent, fresh], limits=limits)

    assert decision.scaling == Scaling(replicas=2, start=1, stop=tuple(b.bot_id for b in spent))
    assert decision.reason == ScaleReason.scale_down


# --- the schedule --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "in_hours"),
    [
        (utc(2026, 3, 2, 14, 0), True),  # Monday 09:00 EST: the start is in
        (utc(2026, 3, 4, 19, 30), True),  # Wednesday 14:30
        (utc(2026, 3, 2, 13, 59, 59), False),  # Monday 08:59:59
        (utc(2026, 3, 6, 22, 0), False),  # Friday 17:00: the end is out
        (utc(2026, 3, 7, 15, 0), False),  # Saturday 10:00
        (utc(2026, 3, 8, 15, 0), False),  # Sunday 11:00
        (utc(2026, 3, 3, 2, 0), False),  # Monday 21:00 in New York, though Tuesday in UTC
    ],
)
def test_business_hours_are_read_in_the_schedule_zone(now: datetime, in_hours: bool) -> None:
    assert BUSINESS.in_hours_at(now) is in_hours
    assert BUSINESS.warm_target(now, min_idle=2) == (5 if in_hours else 1)


def test_a_disabled_schedule_keeps_min_idle() -> None:
    monday_morning = utc(2026, 3, 2, 15, 0)

    assert OFF.warm_target(monday_morning, min_idle=3) == 3
    assert OFF.next_change(monday_morning) is None


def test_the_same_instant_is_business_hours_in_new_york_but_not_in_tokyo() -> None:
    instant = utc(2026, 3, 2, 14, 30)  # Monday 09:30 in New York, 23:30 in Tokyo
    tokyo = Schedule(enabled=True, timezone="Asia/Tokyo")

    assert BUSINESS.warm_target(instant, min_idle=0) == 5
    assert tokyo.warm_target(instant, min_idle=0) == 1
    assert tokyo.next_change(instant) == utc(2026, 3, 3, 0, 0)  # Tuesday 09:00 in Tokyo


@pytest.mark.parametrize(
    ("now", "in_hours"),
    [
        (utc(2026, 3, 6, 14, 0), True),  # Friday before the change: 09:00 EST
        (utc(2026, 3, 9, 12, 59), False),  # Monday after: 08:59 EDT
        (utc(2026, 3, 9, 13, 0), True),  # 09:00 EDT
        (utc(2026, 3, 9, 20, 59), True),  # 16:59 EDT
        (utc(2026, 3, 9, 21, 0), False),  # 17:00 EDT
        (utc(2026, 10, 30, 13, 0), True),  # Friday before the fall back: 09:00 EDT
        (utc(2026, 11, 2, 13, 30), False),  # Monday after: 08:30 EST
        (utc(2026, 11, 2, 14, 0), True),  # 09:00 EST
        (utc(2026, 11, 2, 22, 0), False),  # 17:00 EST
    ],
)
def test_business_hours_follow_daylight_saving_time(now: datetime, in_hours: bool) -> None:
    assert BUSINESS.in_hours_at(now) is in_hours


@pytest.mark.parametrize(
    ("now", "change"),
    [
        (ny(2026, 3, 6, 12, 0), ny(2026, 3, 6, 17, 0)),  # Friday noon: the end of the day
        (ny(2026, 3, 6, 17, 0), ny(2026, 3, 9, 9, 0)),  # over the spring-forward weekend
        (ny(2026, 10, 30, 17, 0), ny(2026, 11, 2, 9, 0)),  # over the fall-back weekend
        (ny(2026, 11, 2, 8, 59, 59), ny(2026, 11, 2, 9, 0)),
    ],
)
def test_next_change_is_the_next_boundary_in_local_time(now: datetime, change: datetime) -> None:
    found = BUSINESS.next_change(now)

    assert found == change
    assert found is not None and found.tzinfo == UTC


def test_next_change_across_the_spring_forward_is_an_hour_shorter() -> None:
    friday_evening = ny(2026, 3, 6, 17, 0)

    found = BUSINESS.next_change(friday_evening)

    assert found is not None
    assert found.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2026, 3, 9, 9, 0)
    assert found - friday_evening == timedelta(days=2, hours=15)


def test_a_start_skipped_by_the_spring_forward_begins_when_the_clocks_change() -> None:
    sundays = Schedule(enabled=True, weekdays=[7], start=time(2, 30), end=time(12, 0))

    found = sundays.next_change(ny(2026, 3, 8, 0, 0))

    assert found == utc(2026, 3, 8, 7, 0)  # 03:00 EDT, the first wall time after 02:30 that exists
    assert sundays.in_hours_at(found - timedelta(microseconds=1)) is False
    assert sundays.in_hours_at(found) is True


def test_an_end_skipped_by_the_spring_forward_ends_when_the_clocks_change() -> None:
    sundays = Schedule(enabled=True, weekdays=[7], start=time(1, 0), end=time(2, 30))

    assert sundays.in_hours_at(ny(2026, 3, 8, 1, 59)) is True
    assert sundays.next_change(ny(2026, 3, 8, 1, 0)) == utc(2026, 3, 8, 7, 0)


def test_a_start_in_the_repeated_hour_of_the_fall_back_is_reached_twice() -> None:
    # The window is wall-clock time: when 01:59 EDT turns into 01:00 EST the clock is before 01:30 again.
    sundays = Schedule(enabled=True, weekdays=[7], start=time(1, 30), end=time(12, 0))
    changes = []
    now = ny(2026, 11, 1, 0, 0)
    for _ in range(4):
        found = sundays.next_change(now)
        assert found is not None
        changes.append(found)
        now = found

    assert changes == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 0), utc(2026, 11, 1, 6, 30),
                       utc(2026, 11, 1, 17, 0)]


SCHEDULES = [
    BUSINESS,
    Schedule(enabled=True, weekdays=[6, 7], start=time(1, 30), end=time(2, 30)),
    Schedule(enabled=True, weekdays=[7], start=time(0, 0), end=time(1, 15)),
    Schedule(enabled=True, weekdays=[1, 7], start=time(2, 0), end=time(23, 59)),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: f"{s.weekdays}-{s.start}-{s.end}")
@pytest.mark.parametrize("first_day", [datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 10, 30, tzinfo=UTC)],
                         ids=["spring-forward", "fall-back"])
def test_next_change_agrees_with_in_hours_at_minute_by_minute(schedule: Schedule, first_day: datetime) -> None:
    minutes = [first_day + timedelta(minutes=m) for m in range(11 * 24 * 60)]
    states = [schedule.in_hours_at(m) for m in minutes]
    flips = [m for m, before, after in zip(minutes[1:], states, states[1:], strict=False) if before != after]

    for now in minutes[: 3 * 24 * 60 : 7]:
        expected = next(f for f in flips if f > now)
        assert schedule.next_change(now) == expected, now


@pytest.mark.parametrize(
    "schedule",
    [OFF, Schedule(enabled=True, in_hours=3, out_of_hours=3), Schedule(enabled=True, weekdays=[])],
    ids=["disabled", "same-target", "no-weekdays"],
)
def test_next_change_is_none_when_the_target_never_changes(schedule: Schedule) -> None:
    assert schedule.next_change(T0) is None


# --- validation ----------------------------------------------------------------------------------------


def test_a_schedule_reads_and_writes_camel_case_json() -> None:
    schedule = Schedule.model_validate(
        {"enabled": True, "timezone": "Europe/Berlin", "weekdays": [5, 1, 1, 3], "start": "08:30",
         "end": "18:00", "inHours": 4, "outOfHours": 0}
    )

    assert schedule.weekdays == (1, 3, 5)
    assert (schedule.start, schedule.end) == (time(8, 30), time(18, 0))
    assert schedule.model_dump(mode="json", by_alias=True) == {
        "enabled": True, "timezone": "Europe/Berlin", "weekdays": [1, 3, 5], "start": "08:30:00",
        "end": "18:00:00", "inHours": 4, "outOfHours": 0,
    }


def test_a_schedule_is_frozen() -> None:
    with pytest.raises(ValidationError):
        BUSINESS.in_hours = 9  # type: ignore[misc]  # the point: assignment is refused


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone 'Mars/Olympus_Mons'"),
        ({"timezone": "america/new_york"}, "unknown time zone"),
        ({"timezone": "../etc/passwd"}, "unknown time zone"),
        ({"timezone": "localtime"}, "unknown time zone"),
        ({"timezone": ""}, "unknown time zone"),
        ({"start": "17:00", "end": "09:00"}, r"end \(09:00:00\) must be after start \(17:00:00\)"),
        ({"start": "09:00", "end": "09:00"}, "must be after start"),
        ({"weekdays": [1, 8]}, "1 \\(Monday\\) to 7 \\(Sunday\\), not 8"),
        ({"weekdays": [0]}, "not 0"),
        ({"start": "09:00+02:00"}, "without a UTC offset"),
        ({"inHours": -1}, "greater than or equal to 0"),
        ({"outOfHours": -1}, "greater than or equal to 0"),
        ({"minIdle": 3}, "Extra inputs are not permitted"),
    ],
)
def test_a_wrong_schedule_is_refused_with_a_clear_message(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Schedule.model_validate(fields)


@pytest.mark.parametrize("call", ["in_hours_at", "warm_target", "next_change"])
@pytest.mark.parametrize("schedule", [OFF, BUSINESS], ids=["disabled", "enabled"])
def test_a_naive_datetime_is_refused(schedule: Schedule, call: str) -> None:
    naive = datetime(2026, 3, 2, 9, 30)
    args: tuple[Any, ...] = (naive, 1) if call == "warm_target" else (naive,)

    with pytest.raises(ValueError, match="now must be timezone-aware"):
        getattr(schedule, call)(*args)


def test_decide_refuses_naive_datetimes_and_negative_counts() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        step([], now=datetime(2026, 3, 2, 9, 30))
    with pytest.raises(ValueError, match="surplus_since must be timezone-aware"):
        step([], surplus_since=datetime(2026, 3, 2, 9, 30))
    with pytest.raises(ValueError, match="must be 0 or more"):
        step([], waiting=-1)
    with pytest.raises(ValueError, match="started_at must be timezone-aware"):
        BotView(bot_id="bot-1", state="idle", started_at=datetime(2026, 3, 2, 9, 30))


@pytest.mark.parametrize(
    "fields",
    [
        {"min_idle": -1, "max_bots": 10},
        {"min_idle": 1, "max_bots": 0},
        {"min_idle": 1, "max_bots": 10, "max_interviews": -1},
        {"min_idle": 1, "max_bots": 10, "max_rss_bytes": -1},
        {"min_idle": 1, "max_bots": 10, "scale_down_delay_seconds": -1.0},
        {"min_idle": 1, "max_bots": 10, "scale_down_delay_seconds": float("nan")},
    ],
)
def test_wrong_limits_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PoolLimits(**fields)
