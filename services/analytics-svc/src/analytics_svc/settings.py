"""analytics-svc settings."""

from voice_shared.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    service_name: str = "analytics-svc"
    port: int = 8004
