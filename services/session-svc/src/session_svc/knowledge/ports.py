"""The knowledge-search port: the bot's grounding, answered by Postgres here or a KB service."""

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from voice_shared.api.kbs import SearchHit


class KnowledgeSearch(Protocol):
    """Top passages for a query within some knowledge bases of one org."""

    async def search(self, org_id: UUID, kb_ids: Sequence[UUID], query: str, k: int) -> list[SearchHit]:
        """At most ``k`` hits, best first; KBs that do not exist in the org are ignored.

        A query with no searchable words (empty, only stop words) has no hits; it is not an error.
        """
        ...
