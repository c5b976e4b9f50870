"""transcript-svc settings."""

from voice_shared.settings import ServiceSettings

SCHEMA = "transcript_svc"


class TranscriptSettings(ServiceSettings):
    service_name: str = "transcript-svc"
    port: int = 8003
    db_schema: str = SCHEMA
