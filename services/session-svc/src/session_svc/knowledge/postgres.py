"""Postgres full-text search over kb_chunks: the embedded knowledge-search adapter."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnClause, Float, Text, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlmodel import col

from session_svc.models import KbChunk, KbDocument, KnowledgeBase
from voice_shared.api.kbs import SearchHit
from voice_shared.db import SessionMaker, transaction

ENGLISH: ColumnClause[Any] = literal_column("'english'::regconfig")
# ts_rank_cd normalisation 32 maps a rank r to r / (r + 1), i.e. into [0, 1).
BOUNDED = 32


class PostgresKnowledgeSearch:
    """Any query word may match (OR); passages matching more distinct words rank first.

    ts_rank_cd alone, over an OR query, mostly counts occurrences, so a passage repeating one
    word would beat one that answers the question. The score is therefore the share of the
    query's distinct words a passage contains, with cover density (ts_rank_cd) breaking ties:
    ``(matched + rank_cd / (rank_cd + 1)) / (query_words + 1)``, in [0, 1).
    """

    def __init__(self, sessions: SessionMaker) -> None:
        self._sessions = sessions

    async def search(self, org_id: UUID, kb_ids: Sequence[UUID], query: str, k: int) -> list[SearchHit]:
        if not kb_ids or not query.strip() or k < 1:
            return []
        words = func.to_tsvector(ENGLISH, query)
        # plainto_tsquery joins every word with '&'; the bot asks in full sentences, so OR them.
        any_word = cast(
            func.replace(cast(func.plainto_tsquery(ENGLISH, query), Text), " & ", " | "), TSQUERY
        )
        q = select(words.label("words"), any_word.label("any_word")).cte("q")
        chunk, tsv = KbChunk, col(KbChunk.tsv)
        # |chunk ∩ query| from the distinct-lexeme counts: |a| + |b| - |a ∪ b|.
        matched = func.length(tsv) + func.length(q.c.words) - func.length(tsv.op("||")(q.c.words))
        score = (
            (cast(matched, Float) + func.ts_rank_cd(tsv, q.c.any_word, BOUNDED))
            / (func.length(q.c.words) + 1)
        ).label("score")
        stmt = (
            select(col(chunk.id), col(chunk.kb_id), col(chunk.document_id), col(KbDocument.filename),
                   col(chunk.text), score)
            .select_from(q)
            .join(chunk, tsv.op("@@")(q.c.any_word))
            .join(KbDocument, col(KbDocument.id) == chunk.document_id)
            .join(KnowledgeBase, col(KnowledgeBase.id) == chunk.kb_id)
            .where(
                func.length(q.c.words) > 0,
                col(chunk.org_id) == org_id,  # Row Level Security says the same; this says it to the reader
                col(chunk.kb_id).in_(list(kb_ids)),
            )
            .order_by(score.desc(), col(chunk.document_id), col(chunk.ordinal))
            .limit(k)
        )
        async with transaction(self._sessions, org_id) as tx:
            rows = (await tx.execute(stmt)).all()
        return [
            SearchHit(chunk_id=r.id, kb_id=r.kb_id, document_id=r.document_id, filename=r.filename,
                      text=r.text, score=round(float(r.score), 6))
            for r in rows
        ]
