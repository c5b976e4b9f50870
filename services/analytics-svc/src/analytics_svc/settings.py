"""analytics-svc settings."""

from pydantic import Field

from voice_shared.settings import ServiceSettings

SCHEMA = "analytics_svc"


class AnalyticsSettings(ServiceSettings):
    service_name: str = "analytics-svc"
    port: int = 8004
    db_schema: str = SCHEMA
    calls_services = True  # session-svc (plans, keys) and transcript-svc (transcripts), as service: analytics
    # An LLM scorer's request that takes longer fails the scoring (recorded, never retried silently).
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
