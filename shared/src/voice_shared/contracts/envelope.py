"""The event envelope every message on the bus carries, and the registry of contracts."""

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    """Base of every event payload. Subclasses set ``type`` (the routing key) and ``version``.

    Consumers ignore unknown fields, so a version may gain optional fields without breaking them.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: ClassVar[str]
    version: ClassVar[int] = 1


class Envelope(BaseModel):
    """What travels on the bus: routing metadata around one event payload."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID = Field(description="Unique id; consumers deduplicate on it.")
    type: str = Field(description="Event type, also the routing key, e.g. 'session.started'.")
    version: int = Field(ge=1, description="Contract version of the payload.")
    occurred_at: datetime = Field(description="When the fact happened (UTC).")
    org_id: UUID | None = Field(description="Tenant the event belongs to; None for platform events.")
    session_id: UUID | None = Field(default=None, description="Voice session, when there is one.")
    correlation_id: str | None = Field(default=None, description="Request or flow that caused it.")
    payload: dict[str, Any] = Field(description="The event body, validated by its contract.")

    @property
    def org(self) -> UUID:
        """The tenant of a tenant event (``bus.consume`` dead-letters one without an org)."""
        if self.org_id is None:
            raise ValueError(f"{self.type} {self.event_id} has no org_id")
        return self.org_id

    def parse(self) -> Event:
        """The payload as its contract model (raises for an unknown type or version)."""
        return contract_for(self.type, self.version).model_validate(self.payload)


CORRELATION_ID_MAX = 128


def clean_correlation_id(value: str | bytes | None) -> str | None:
    """``value`` if it is a usable correlation id (printable ASCII, 1-128 characters), else None.

    Correlation ids come from clients (a header) and travel into logs, the outbox and AMQP
    properties (at most 255 bytes there): anything else is dropped, never passed on.
    """
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not value or len(value) > CORRELATION_ID_MAX or not all(" " <= c <= "~" for c in value):
        return None
    return value


_REGISTRY: dict[tuple[str, int], type[Event]] = {}


def register(cls: type[Event]) -> type[Event]:
    key = (cls.type, cls.version)
    if key in _REGISTRY:
        raise ValueError(f"contract {key} registered twice")
    _REGISTRY[key] = cls
    return cls


def contract_for(type_: str, version: int) -> type[Event]:
    try:
        return _REGISTRY[(type_, version)]
    except KeyError:
        raise ValueError(f"unknown event contract {type_} v{version}") from None


def all_contracts() -> list[type[Event]]:
    return list(_REGISTRY.values())


def envelope(
    event: Event,
    *,
    org_id: UUID | None,
    session_id: UUID | None = None,
    correlation_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Wrap an event payload for publishing."""
    return Envelope(
        event_id=uuid.uuid4(),
        type=event.type,
        version=event.version,
        occurred_at=occurred_at or datetime.now(UTC),
        org_id=org_id,
        session_id=session_id,
        correlation_id=clean_correlation_id(correlation_id),
        payload=event.model_dump(mode="json"),
    )
