"""transcript-svc settings."""

from voice_shared.settings import ServiceSettings


class TranscriptSettings(ServiceSettings):
    service_name: str = "transcript-svc"
    port: int = 8003
