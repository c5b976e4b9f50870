"""The warm pool as others see it (bot-orchestrator): a dispatched session's place in the queue, the
pool for platform admins, and its business-hours schedule."""

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, field_validator, model_validator

from voice_shared.api.common import ApiModel, WriteModel

# Files in the time zone database that load as zones but name none: ``localtime`` is the machine's own zone.
_NOT_ZONES = frozenset({"localtime", "posixrules"})


class QueuePlace(ApiModel):
    """Where a dispatched session is until a bot picks it up: every bot is busy and it waits its turn."""

    position: int = Field(ge=1, description="1: the next bot that comes free takes this session.")
    waiting: int = Field(ge=1, description="Sessions waiting for a bot, this one included.")
    estimated_wait_seconds: float = Field(
        ge=0, description="About how long until a bot takes it: a bot starting, or the busy ones finishing.")
    dispatched_at: datetime = Field(description="When the session's bot job went out.")


class PoolSchedule(WriteModel):
    """Business hours for the warm pool: ``inHours`` bots warm inside them, ``outOfHours`` outside (when
    enabled, in place of the orchestrator's ``VOICE_POOL_MIN_IDLE``). Times are wall-clock times in
    ``timezone``, so the window follows daylight saving time."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = Field(default=False, description="Whether the schedule sets the warm target (else min_idle).")
    timezone: str = Field(
        default="America/New_York", examples=["America/New_York", "Europe/Berlin"],
        description="IANA time zone the hours and weekdays are read in.",
    )
    weekdays: tuple[int, ...] = Field(
        default=(1, 2, 3, 4, 5), examples=[[1, 2, 3, 4, 5]],
        description="Business days as ISO weekdays, 1 (Monday) to 7 (Sunday); stored sorted, without repeats.",
    )
    start: time = Field(default=time(9, 0), description="When business hours begin, local time (inclusive).")
    end: time = Field(default=time(17, 0), description="When business hours end, local time (exclusive).")
    in_hours: int = Field(default=5, ge=0, description="Warm (idle) bots kept during business hours.")
    out_of_hours: int = Field(default=1, ge=0, description="Warm (idle) bots kept outside business hours.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            known = False
        else:
            known = value not in _NOT_ZONES
        if not known:
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as 'America/New_York'")
        return value

    @field_validator("weekdays")
    @classmethod
    def _iso_weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if wrong := [day for day in value if not 1 <= day <= 7]:
            raise ValueError(f"weekdays are ISO numbers from 1 (Monday) to 7 (Sunday), not {wrong[0]}")
        return tuple(sorted(set(value)))

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give a local time without a UTC offset: it is read in the schedule's timezone")
        return value

    @model_validator(mode="after")
    def _end_after_start(self) -> "PoolSchedule":
        if self.end <= self.start:
            raise ValueError(
                f"end ({self.end.isoformat()}) must be after start ({self.start.isoformat()}): "
                "business hours begin and end on the same day"
            )
        return self


class BotPublic(ApiModel):
    """A bot as the orchestrator last heard of it."""

    id: str
    backend: str = Field(description="local, kubernetes or external.")
    state: str = Field(description="starting, idle, busy, draining; lost (stopped answering) or gone once ended.")
    session_id: str | None = Field(description="The session it serves, when busy.")
    started_at: datetime
    cold_start_seconds: float | None = Field(description="From its start to its first idle heartbeat (warm).")
    last_seen_at: datetime | None
    interviews_served: int
    rss_bytes: int


class PoolPublic(ApiModel):
    """The warm pool now: bots by state, the queue, the target in force, and how fast bots start and pick up."""

    backend: str
    bots: list[BotPublic] = Field(description="Bots that are running or starting, oldest first.")
    by_state: dict[str, int]
    waiting: int = Field(description="Dispatched sessions no bot has taken yet.")
    oldest_wait_seconds: float | None
    warm_target: int = Field(description="Idle bots wanted now (min idle, or the schedule's value).")
    desired: int = Field(description="Bots wanted: busy + waiting + warm target, capped at maxBots.")
    actual: int = Field(description="Bots the runtime runs or is starting.")
    reason: str = Field(description="Why the last step looked as it did (steady, demand, scale_down, ...).")
    warmed: bool = Field(description="The warm target was met at least once since the orchestrator started.")
    min_idle: int
    max_bots: int
    schedule: PoolSchedule
    in_hours: bool | None = Field(description="Whether business hours apply now (null with the schedule off).")
    next_change: datetime | None = Field(description="When the schedule next changes the warm target.")
    recent_cold_starts_seconds: list[float] = Field(description="The last bots' start-to-warm times, newest first.")
    pick_up_p50_seconds: float | None = Field(description="Dispatch to a bot taking it, over recent sessions.")
    pick_up_p95_seconds: float | None
