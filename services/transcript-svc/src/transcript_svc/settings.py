"""transcript-svc settings."""

from pydantic import Field

from voice_shared.settings import ServiceSettings

SCHEMA = "transcript_svc"


class TranscriptSettings(ServiceSettings):
    service_name: str = "transcript-svc"
    port: int = 8003
    db_schema: str = SCHEMA
    # The sweeper deletes records past their org's retention (data_retention_days where the org set none).
    retention_sweep_seconds: float = Field(default=3600.0, gt=0)
    retention_sweep_batch: int = Field(default=200, ge=1)
    # How long a recording's download link works.
    recording_link_seconds: int = Field(default=900, ge=10, le=7 * 24 * 3600)
