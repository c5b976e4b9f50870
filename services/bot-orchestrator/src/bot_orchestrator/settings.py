"""bot-orchestrator settings (``VOICE_*``; the pool's own are ``VOICE_POOL_*``)."""

from typing import Literal

from pydantic import Field

from voice_shared.settings import ServiceSettings

SCHEMA = "bot_orchestrator"


class OrchestratorSettings(ServiceSettings):
    service_name: str = "bot-orchestrator"
    port: int = 8002
    db_schema: str = SCHEMA

    # Who runs the bots: ``local`` starts worker processes on this machine (`make run`), ``kubernetes``
    # scales the bot Deployment, ``external`` starts nothing (bots run by hand or by another supervisor:
    # the orchestrator still tracks them, queues sessions and detects lost bots).
    pool_backend: Literal["local", "kubernetes", "external"] = "local"
    pool_min_idle: int = Field(default=2, ge=0, le=1000, description="warm bots kept when the schedule is off")
    pool_max_bots: int = Field(default=10, ge=1, le=10_000)
    # An idle bot above the target is stopped once the surplus has lasted this long.
    pool_scale_down_delay_seconds: float = Field(default=30.0, ge=0)
    pool_reconcile_seconds: float = Field(default=1.0, gt=0)
    # A bot silent this long (its heartbeats come every VOICE_HEARTBEAT_SECONDS, 5 by default) is lost.
    pool_heartbeat_timeout_seconds: float = Field(default=15.0, gt=0)
    # A started bot that has not said it is warm by then is given up and replaced.
    pool_start_timeout_seconds: float = Field(default=180.0, gt=0)
    # Bots past these are replaced when idle (the worker also recycles itself after an interview).
    max_interviews: int = Field(default=50, ge=0, description="0: no limit")
    max_rss_mb: int = Field(default=1500, ge=0, description="0: no limit")
    # Kubernetes: the bot Deployment; credentials in the cluster (service account) or from a kubeconfig.
    kubernetes_namespace: str = "default"
    kubernetes_deployment: str = "voice-bot"
    kubeconfig: str | None = None
    kubernetes_context: str | None = None
