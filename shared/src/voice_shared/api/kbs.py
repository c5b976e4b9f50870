"""Knowledge bases: org-scoped collections of text documents searched to ground the bot."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from voice_shared.api.common import ApiModel, WriteModel

MAX_DOCUMENT_CHARS = 512 * 1024


class KbCreate(WriteModel):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)


class KbPublic(ApiModel):
    id: UUID
    org_id: UUID
    name: str
    description: str
    document_count: int
    created_by: str
    created_at: datetime


class DocumentCreate(WriteModel):
    """A text or markdown document, sent as JSON text (at most 512 KiB of characters)."""

    filename: str = Field(min_length=1, max_length=255)
    content_type: Literal["text/plain", "text/markdown"] = "text/plain"
    text: str = Field(min_length=1, description="The document's text (UTF-8).")


class DocumentPublic(ApiModel):
    id: UUID
    kb_id: UUID
    filename: str
    content_type: str
    size_bytes: int
    chunk_count: int
    created_at: datetime


class SearchRequest(WriteModel):
    """The bot's search: top ``k`` passages from the given knowledge bases of one org."""

    org_id: UUID
    kb_ids: list[UUID] = Field(min_length=1, max_length=20)
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=5, ge=1, le=50)


class SearchHit(ApiModel):
    chunk_id: UUID
    kb_id: UUID
    document_id: UUID
    filename: str
    text: str
    score: float


class SearchResults(ApiModel):
    hits: list[SearchHit]
