"""session-svc settings."""

from voice_shared.settings import ServiceSettings

SCHEMA = "session_svc"


class SessionSettings(ServiceSettings):
    service_name: str = "session-svc"
    port: int = 8001
    db_schema: str = SCHEMA
    app_role: str = "voice_app"
    outbox_poll_seconds: float = 0.5
    max_document_bytes: int = 512 * 1024
