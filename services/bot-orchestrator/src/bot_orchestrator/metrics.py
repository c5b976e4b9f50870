"""The pool's Prometheus metrics (served at the orchestrator's /metrics)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot_orchestrator.pool.policy import Decision

STATES = ("starting", "idle", "busy", "draining")
# Seconds: a warm pick-up is well under one, a cold start several, a queue wait minutes.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)


class PoolMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.bots = Gauge("voice_pool_bots", "Bots by state", ["state"], registry=registry)
        self.desired = Gauge("voice_pool_desired_bots", "Bots wanted: busy + waiting + warm target, capped",
                             registry=registry)
        self.actual = Gauge("voice_pool_actual_bots", "Bots the runtime runs or is starting", registry=registry)
        self.warm_target = Gauge("voice_pool_warm_target", "Idle bots wanted now", registry=registry)
        self.max_bots = Gauge("voice_pool_max_bots", "The pool's cap", registry=registry)
        self.waiting = Gauge("voice_pool_waiting_sessions", "Dispatched sessions no bot has taken",
                             registry=registry)
        self.cold_start = Histogram("voice_pool_cold_start_seconds", "A bot's start to its first idle heartbeat",
                                    buckets=BUCKETS, registry=registry)
        self.pick_up = Histogram("voice_pool_pick_up_seconds", "A session's dispatch to a bot taking it",
                                 buckets=BUCKETS, registry=registry)
        self.lost = Counter("voice_pool_bots_lost_total", "Bots that exited mid-interview or fell silent",
                            ["reason"], registry=registry)

    def reconciled(self, decision: Decision, states: list[str], waiting: int, max_bots: int) -> None:
        for state in STATES:
            self.bots.labels(state).set(sum(s == state for s in states))
        self.desired.set(decision.desired)
        self.actual.set(decision.actual)
        self.warm_target.set(decision.warm_target)
        self.max_bots.set(max_bots)
        self.waiting.set(waiting)
