"""Base models of the public API: camelCase JSON, unknown fields refused on writes."""

import base64
import json
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from voice_shared.errors import BadRequest

MAX_METADATA_BYTES = 16 * 1024


class ApiModel(BaseModel):
    """A response model: camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class WriteModel(ApiModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        """PostgreSQL stores no NUL character in text or JSON: refuse it here, with its place."""
        if (place := _nul_at(data)) is not None:
            raise ValueError(f"text must not contain NUL (\\u0000) characters (at {place or 'the body'})")
        return data


def _nul_at(value: Any, place: str = "") -> str | None:
    if isinstance(value, str):
        return place if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return place or "a key"
        if (found := _nul_at(item, f"{place}.{key}" if place else str(key))) is not None:
            return found
    return None


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_small_json)]
Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Email = Annotated[
    str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["ada@example.com"])
]

T = TypeVar("T")


class Page(ApiModel, Generic[T]):
    """One page of a list: ``nextCursor`` fetches the next; ``total`` counts all matches."""

    items: list[T]
    total: int
    next_cursor: str | None = None


def encode_cursor(created_at: datetime, id_: UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The position a cursor names; a cursor that was not ours is a 400, not a 500."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, id_ = json.loads(raw)
        return datetime.fromisoformat(created_at), UUID(id_)
    except (ValueError, TypeError) as e:
        raise BadRequest("The cursor is not valid; use nextCursor from a previous page.",
                         code="invalid_cursor") from e
