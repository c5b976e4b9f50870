"""Provider credentials (Daily, Deepgram, Cartesia, OpenAI) at org or platform scope.

A secret goes in on create and update and never comes back out of the public API: responses show
a masked tail and a fingerprint. Only service identities read a secret, through session-svc's
internal endpoint (``ResolvedCredential``).
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, PlainSerializer, SecretStr, field_validator, model_validator
from pydantic.alias_generators import to_camel

from voice_shared.api.common import ApiModel, Metadata, WriteModel

MAX_SECRET_CHARS = 4096


class CredentialService(StrEnum):
    daily = "daily"
    deepgram = "deepgram"
    cartesia = "cartesia"
    openai = "openai"


CredentialScope = Literal["org", "platform"]

# Masked in repr and str (so in logs and tracebacks); written out only when serialised to JSON,
# which is how the gateway forwards a create or update and how the internal endpoint answers.
RevealedInJson = Annotated[
    SecretStr, PlainSerializer(lambda s: s.get_secret_value(), return_type=str, when_used="json")
]


def _clean_secret(value: SecretStr) -> SecretStr:
    """Surrounding whitespace (a pasted newline) dropped; inside, only visible ASCII, as HTTP
    headers carry it. Errors never repeat the value."""
    text = value.get_secret_value().strip()
    if not text:
        raise ValueError("the secret must not be empty")
    if len(text) > MAX_SECRET_CHARS:
        raise ValueError(f"the secret must be at most {MAX_SECRET_CHARS} characters")
    if not all("\x21" <= ch <= "\x7e" for ch in text):
        raise ValueError("the secret may contain only visible ASCII characters (no spaces)")
    return SecretStr(text)


class CredentialCreate(WriteModel):
    """A new credential. With ``active`` (the default) it becomes the scope's key for its service;
    if the scope already has an active one for that service the answer is 409
    ``credential_already_active``: create it inactive and activate it with PATCH, which swaps the
    two in one transaction."""

    service: CredentialService = Field(description="The provider the key is for.")
    name: str = Field(min_length=1, max_length=120, description="A label, e.g. 'production key'.")
    secret: RevealedInJson = Field(description="The API key. Write-only: never returned.")
    metadata: Metadata = Field(default_factory=dict, description="Free-form, e.g. a Daily domain.")
    active: bool = Field(default=True, description="Whether sessions use this key.")

    _secret = field_validator("secret")(_clean_secret)


class CredentialUpdate(WriteModel):
    """Any subset of the fields. A new ``secret`` clears the last validation. ``active: true``
    makes this the scope's key for its service and deactivates the previous one atomically."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    secret: RevealedInJson | None = Field(default=None, description="A replacement API key.")
    metadata: Metadata | None = None
    active: bool | None = None

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else _clean_secret(value)

    @model_validator(mode="after")
    def _no_explicit_nulls(self) -> "CredentialUpdate":
        nulls = sorted(to_camel(f) for f in self.model_fields_set if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null: omit a field to keep its value")
        return self


class CredentialPublic(ApiModel):
    """A credential as every API answer shows it: never the secret."""

    id: UUID
    scope: CredentialScope
    org_id: UUID | None = Field(description="The organisation; null at platform scope.")
    service: CredentialService
    name: str
    backend: str = Field(description="Where the secret is stored: 'local' or 'aws'.")
    masked: str = Field(description="The secret's last characters, e.g. '****a1b2'.")
    fingerprint: str = Field(description="'sha256:' and the first 16 hex digits of the secret's "
                                         "SHA-256, to compare with a key you hold.")
    metadata: dict[str, Any]
    active: bool
    last_validated_at: datetime | None
    last_validation_ok: bool | None
    last_validation_message: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


ValidationOutcome = Literal["valid", "rejected", "unreachable", "provider_error", "error"]


class ValidationResult(ApiModel):
    """What the provider said when called with the key (also stored on the credential)."""

    credential_id: UUID
    service: CredentialService
    ok: bool = Field(description="True only when the provider accepted the key.")
    outcome: ValidationOutcome = Field(
        description="valid; rejected (the provider refused the key); unreachable (no answer); "
                    "provider_error (an answer that says nothing about the key, e.g. 429, 5xx); "
                    "error (anything else)."
    )
    message: str = Field(description="For people: what happened and what to do.")
    http_status: int | None = Field(default=None, description="The provider's HTTP status, if any.")
    checked_at: datetime


class ResolvedCredential(ApiModel):
    """The key a session uses for a service (internal endpoint, service identities only)."""

    credential_id: UUID
    service: CredentialService
    scope: CredentialScope = Field(description="'org' if the org has its own key, else 'platform'.")
    secret: RevealedInJson
    fingerprint: str
    metadata: dict[str, Any]
