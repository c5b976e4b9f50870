"""Gateway settings."""

from pydantic import Field

from voice_shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Read from ``VOICE_*``; the upstreams' URLs are the base settings' ``*_svc_url``."""

    service_name: str = "gateway"
    port: int = 8000
    # A request that an upstream has not answered in this time becomes a 503, never a hung client.
    upstream_timeout_seconds: float = Field(default=10.0, gt=0)
    upstream_max_connections: int = Field(default=100, ge=1)
    # How long an SDP offer waits for the session's bot to answer before the caller gets a 504.
    webrtc_answer_timeout_seconds: float = Field(default=10.0, gt=0)
    # After Start, an offer waits this long for the bot taking the session to serve it (a warm bot takes
    # well under a second), so the candidate connects the moment it does; then a retryable 409.
    webrtc_bot_wait_seconds: float = Field(default=8.0, ge=0)
    # The live transcript: how long a socket may take to authenticate, how often it is pinged, how
    # many messages may wait for a slow viewer before it is dropped, and how long after the session's
    # end the sockets stay open for segments still on their way.
    live_auth_timeout_seconds: float = Field(default=5.0, gt=0)
    live_ping_seconds: float = Field(default=20.0, gt=0)
    live_max_pending: int = Field(default=1000, ge=1)
    live_end_grace_seconds: float = Field(default=0.5, ge=0)
