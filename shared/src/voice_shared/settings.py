"""Settings base shared by every service: DSNs, bus, auth and logging."""

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
DEV_JOIN_TOKEN_SECRET = "dev-only-join-secret-change-me-0123456789"


class ServiceSettings(BaseSettings):
    """Common settings; each service subclasses it and adds its own fields.

    Every variable is read with the ``VOICE_`` prefix, e.g. ``VOICE_DATABASE_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="VOICE_", extra="ignore")
    # A service that calls others' internal APIs with its own identity needs a service token in production.
    calls_services: ClassVar[bool] = False

    environment: Literal["development", "test", "production"] = "development"
    service_name: str = "voice"
    host: str = "127.0.0.1"
    port: int = 8000

    # The application role: must not own the tables (Row Level Security is forced on it).
    database_url: str = "postgresql+asyncpg://voice_app@127.0.0.1:5432/voice"
    # The owner role: runs migrations only.
    migration_database_url: str = "postgresql+asyncpg://voice_owner@127.0.0.1:5432/voice"
    database_pool_size: int = 10

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # How often a service's outbox relay looks for unsent events when nothing wakes it.
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    # Prefix of every exchange and queue name, so several platforms (or test runs) share a broker.
    bus_namespace: str = "voice"

    # Where the internal APIs listen (`voice run` sets VOICE_<SERVICE>_URL for every child).
    session_svc_url: str = "http://127.0.0.1:8001"
    transcript_svc_url: str = "http://127.0.0.1:8003"
    analytics_svc_url: str = "http://127.0.0.1:8004"
    bot_orchestrator_url: str = "http://127.0.0.1:8002"
    # This service's identity towards the others' internal APIs. Unset: a short-lived token is signed with the
    # HS256 development secret, which only works where services accept it (no VOICE_JWKS_URL).
    service_token: SecretStr | None = None
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwks_url: str | None = None
    jwt_issuer: str = "voice-dev"
    jwt_audience: str = "voice-platform"

    # Candidate join links are signed by the platform itself (never by the identity provider),
    # with a key of their own, so a join token can never pass as a user token or the reverse.
    join_token_secret: SecretStr = SecretStr(DEV_JOIN_TOKEN_SECRET)
    join_token_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    public_url: str = "http://127.0.0.1:8000"  # the gateway as candidates reach it (join links)
    data_retention_days: int = Field(default=90, ge=1)  # told to candidates before they consent

    # Archived transcripts and recordings (voice_shared.objects): a local folder by default, or any
    # S3 endpoint (AWS, MinIO). Credentials come from boto3's usual chain (environment, role).
    object_store: Literal["local", "s3"] = "local"
    object_store_dir: str = "var/objects"
    object_store_prefix: str = Field(default="", pattern=r"^([A-Za-z0-9._-]+/)*$")
    s3_endpoint_url: str | None = None
    s3_bucket: str = "voice-platform"
    s3_region: str = "us-east-1"
    s3_kms_key_id: str | None = None  # SSE-KMS on every object when set

    log_level: str = "INFO"
    json_logs: bool | None = None  # None: JSON when stderr is not a terminal

    max_body_bytes: int = 2 * 1024 * 1024

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> "ServiceSettings":
        if (
            self.environment == "production"
            and self.jwks_url is None
            and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET
        ):
            raise ValueError("VOICE_JWT_SECRET or VOICE_JWKS_URL must be set in production")
        if self.environment == "production" and self.join_token_secret.get_secret_value() in (
            DEV_JOIN_TOKEN_SECRET, self.jwt_secret.get_secret_value()
        ):
            raise ValueError("VOICE_JOIN_TOKEN_SECRET must be set in production, to a key of its own")
        if self.environment == "production" and self.calls_services and self.service_token is None:
            raise ValueError(f"VOICE_SERVICE_TOKEN must be set in production ({self.service_name}'s service identity)")
        return self
