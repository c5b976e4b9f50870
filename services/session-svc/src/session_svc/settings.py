"""session-svc settings."""

import base64
import binascii
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from voice_shared.settings import ServiceSettings

SCHEMA = "session_svc"

# Base64 of 32 bytes, public in this repository: fine for development and tests, refused in
# production (like the development JWT secret).
DEV_KEK = "/9FD13JbN1VKTBzkz/xYuu1a3Kj3Q1Zh5D6ckv/8+ug="


def decode_kek(value: str, variable: str) -> bytes:
    """A key-encryption key from its base64 text; the error names the variable, never the value."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ValueError(f"{variable} must be the base64 encoding of exactly 32 random bytes "
                         "(e.g. `openssl rand -base64 32`)")
    return key


class SessionSettings(ServiceSettings):
    # A validation error must not print the values it was given: they include keys (VOICE_KEK).
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    service_name: str = "session-svc"
    port: int = 8001
    calls_services = True  # the orchestrator (queue places) and transcript-svc (erasure), as service: session
    db_schema: str = SCHEMA
    app_role: str = "voice_app"
    max_document_bytes: int = 512 * 1024

    # --- provider credentials: where secrets are kept ---------------------------------------
    secrets_backend: Literal["local", "aws"] = "local"
    # VOICE_KEK: the key that wraps new data keys (local backend). VOICE_PREVIOUS_KEKS:
    # comma-separated keys that are still accepted for reading, during and before a rotation.
    kek: SecretStr = SecretStr(DEV_KEK)
    previous_keks: SecretStr = SecretStr("")
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    aws_kms_key_id: str | None = None
    aws_secret_prefix: str = "voice/credentials"
    aws_recovery_window_days: int = Field(default=7, ge=7, le=30)

    # --- provider APIs that validation calls (tests point them at fake servers) ---------------
    daily_api_url: str = "https://api.daily.co"
    deepgram_api_url: str = "https://api.deepgram.com"
    cartesia_api_url: str = "https://api.cartesia.ai"
    cartesia_api_version: str = "2024-11-13"
    openai_api_url: str = "https://api.openai.com"
    provider_timeout_seconds: float = Field(default=10.0, gt=0)

    # --- rooms ------------------------------------------------------------------------------
    # A room expires max_duration + this margin after the start: the margin is the candidate's
    # window to join (keep the start-to-join timeout within it) and the bot's time to say goodbye.
    room_margin_minutes: int = Field(default=30, ge=1, le=24 * 60)
    room_max_participants: int = Field(default=3, ge=2, le=10)  # the bot, the candidate, one observer
    room_sweep_seconds: float = Field(default=60.0, gt=0)
    room_sweep_batch: int = Field(default=100, ge=1, le=10_000)
    # A start whose provider call has not come back in this time no longer blocks another start.
    room_provision_timeout_seconds: float = Field(default=120.0, gt=0)
    daily_max_attempts: int = Field(default=4, ge=1, le=10)
    daily_backoff_seconds: float = Field(default=0.5, ge=0)
    daily_backoff_max_seconds: float = Field(default=8.0, ge=0)

    # --- invitations and dispatch -----------------------------------------------------------
    # Interviews an org may run at once (dispatched or active), unless its settings say otherwise.
    max_concurrent_interviews: int = Field(default=20, ge=1, le=10_000)
    # How often sessions past their join deadline are ended (failed, link_expired).
    link_expiry_sweep_seconds: float = Field(default=30.0, gt=0)
    link_expiry_sweep_batch: int = Field(default=100, ge=1, le=10_000)

    @model_validator(mode="after")
    def _usable_keks(self) -> "SessionSettings":
        decode_kek(self.kek.get_secret_value(), "VOICE_KEK")
        for extra in self.previous_kek_texts():
            decode_kek(extra, "each of VOICE_PREVIOUS_KEKS")
        if (
            self.environment == "production"
            and self.secrets_backend == "local"
            and self.kek.get_secret_value().strip() == DEV_KEK
        ):
            raise ValueError("VOICE_KEK must be set in production (the development key is public)")
        return self

    def previous_kek_texts(self) -> list[str]:
        return [k.strip() for k in self.previous_keks.get_secret_value().split(",") if k.strip()]
