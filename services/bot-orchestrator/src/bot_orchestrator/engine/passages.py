"""KB grounding: the passage-search port and an in-memory implementation."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from voice_shared.matching import content_stems


@dataclass(frozen=True)
class Passage:
    id: str  # the KB chunk id, recorded on QuestionAsked.kb_passages
    text: str
    source: str = ""  # e.g. the document's file name


class PassageSource(Protocol):
    """Top passages from the session's enabled knowledge bases (session-svc's search in production)."""

    async def search(self, query: str, k: int) -> list[Passage]:
        """At most ``k`` passages, best first; none is a normal answer."""
        ...


class NoPassages:
    """A session without knowledge bases."""

    async def search(self, query: str, k: int) -> list[Passage]:
        return []


class InMemoryPassages:
    """Ranks passages by how many of the query's distinct content-word stems they contain."""

    def __init__(self, passages: Iterable[Passage]) -> None:
        self._passages = [(p, set(content_stems(p.text))) for p in passages]

    async def search(self, query: str, k: int) -> list[Passage]:
        wanted = set(content_stems(query))
        scored = [(len(wanted & have), i, p) for i, (p, have) in enumerate(self._passages)]
        return [p for score, _, p in sorted(scored, key=lambda s: (-s[0], s[1])) if score > 0][:k]
