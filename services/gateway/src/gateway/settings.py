"""Gateway settings."""

from pydantic import Field

from voice_shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Read from ``VOICE_*``; ``voice run`` sets ``VOICE_SESSION_SVC_URL`` for every child."""

    service_name: str = "gateway"
    port: int = 8000
    session_svc_url: str = "http://127.0.0.1:8001"
    # A request that session-svc has not answered in this time becomes a 503, never a hung client.
    upstream_timeout_seconds: float = Field(default=10.0, gt=0)
    upstream_max_connections: int = Field(default=100, ge=1)
    # How long an SDP offer waits for the session's bot to answer before the caller gets a 504.
    webrtc_answer_timeout_seconds: float = Field(default=10.0, gt=0)
