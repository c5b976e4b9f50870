"""Knowledge bases: CRUD for org admins, reading and search for every member, session links.

Deleting a KB or a document is a hard delete: the text is gone, its chunks and session links
with it (foreign keys cascade). A running bot simply stops finding passages from it.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from session_svc import repository as repo
from session_svc.knowledge.chunking import chunk_text
from session_svc.knowledge.ports import KnowledgeSearch
from session_svc.lifecycle import TERMINAL
from session_svc.models import KbChunk, KbDocument, KnowledgeBase, VoiceSession, VoiceSessionKb
from session_svc.permissions import require_admin, require_member
from voice_shared.api.common import Page
from voice_shared.api.kbs import (
    MAX_DOCUMENT_CHARS,
    DocumentCreate,
    DocumentPublic,
    KbCreate,
    KbPublic,
    SearchRequest,
    SearchResults,
)
from voice_shared.api.sessions import KbLinkCreate, KbLinkPublic, KbLinkUpdate
from voice_shared.auth import Principal, require_service
from voice_shared.contracts import SessionStatus
from voice_shared.db import SessionMaker, transaction
from voice_shared.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed

# --- knowledge bases -------------------------------------------------------------------------


def _document_count() -> Any:
    return (
        select(func.count()).where(KbDocument.kb_id == KnowledgeBase.id)
        .correlate(KnowledgeBase).scalar_subquery()
    )


def _public(kb: KnowledgeBase, document_count: int) -> KbPublic:
    return KbPublic(
        id=kb.id, org_id=kb.org_id, name=kb.name, description=kb.description,
        document_count=document_count, created_by=kb.created_by, created_at=kb.created_at,
    )


def _kb_not_found(**details: Any) -> NotFound:
    return NotFound("No such knowledge base.", code="kb_not_found", details=details or None)


async def _require_kb(tx: AsyncSession, kb_id: UUID, *, lock: bool = False) -> KnowledgeBase:
    """The KB (Row Level Security keeps it in the transaction's org); ``lock`` holds off deletion."""
    stmt = select(KnowledgeBase).where(KnowledgeBase.id == kb_id)
    if lock:
        stmt = stmt.with_for_update(read=True)
    kb = (await tx.execute(stmt)).scalar_one_or_none()
    if kb is None:
        raise _kb_not_found()
    return kb


async def create_kb(db: SessionMaker, principal: Principal, org_id: UUID, body: KbCreate) -> KbPublic:
    require_admin(principal, org_id)
    kb = KnowledgeBase(
        id=uuid.uuid4(), org_id=org_id, name=body.name, description=body.description,
        created_by=principal.sub, created_at=datetime.now(UTC),
    )
    try:
        async with transaction(db, org_id) as tx:
            tx.add(kb)
    except IntegrityError as e:
        raise Conflict(
            f"A knowledge base named {body.name!r} already exists in this organisation; "
            "choose another name.",
            code="kb_name_taken",
        ) from e
    return _public(kb, 0)


async def list_kbs(
    db: SessionMaker, principal: Principal, org_id: UUID, limit: int, cursor: str | None
) -> Page[KbPublic]:
    require_member(principal, org_id)
    where = [col(KnowledgeBase.org_id) == org_id]
    stmt = select(KnowledgeBase, _document_count()).where(*where)
    async with transaction(db, org_id) as tx:
        rows = (await tx.execute(repo.page_after(stmt, KnowledgeBase, cursor, limit))).all()
        total = await repo.count(tx, KnowledgeBase, *where)
    page, next_cursor = repo.page_of(rows, limit, lambda r: (r[0].created_at, r[0].id))
    return Page[KbPublic](items=[_public(kb, n) for kb, n in page], total=total, next_cursor=next_cursor)


async def get_kb(db: SessionMaker, principal: Principal, org_id: UUID, kb_id: UUID) -> KbPublic:
    require_member(principal, org_id)
    async with transaction(db, org_id) as tx:
        row = (await tx.execute(
            select(KnowledgeBase, _document_count()).where(KnowledgeBase.id == kb_id)
        )).first()
    if row is None:
        raise _kb_not_found()
    return _public(*row)


async def delete_kb(db: SessionMaker, principal: Principal, org_id: UUID, kb_id: UUID) -> None:
    require_admin(principal, org_id)
    async with transaction(db, org_id) as tx:
        await tx.delete(await _require_kb(tx, kb_id))


# --- documents -------------------------------------------------------------------------------


def _check_size(body: DocumentCreate, max_bytes: int) -> int:
    """The document's size in bytes; 413 if it is over either limit."""
    size_bytes = len(body.text.encode())
    if len(body.text) > MAX_DOCUMENT_CHARS or size_bytes > max_bytes:
        raise PayloadTooLarge(
            f"The document has {len(body.text)} characters ({size_bytes} bytes of UTF-8); the limit "
            f"is {MAX_DOCUMENT_CHARS} characters and {max_bytes} bytes. Split it into several "
            "documents.",
            code="document_too_large",
            details={"maxChars": MAX_DOCUMENT_CHARS, "maxBytes": max_bytes},
        )
    return size_bytes


async def add_document(
    db: SessionMaker, principal: Principal, org_id: UUID, kb_id: UUID, body: DocumentCreate,
    max_bytes: int,
) -> DocumentPublic:
    """Store a document as searchable chunks (the chunks are the only copy of its text)."""
    require_admin(principal, org_id)
    size_bytes = _check_size(body, max_bytes)
    chunks = chunk_text(body.text, markdown=body.content_type == "text/markdown")
    if not chunks:
        raise ValidationFailed("The document has no searchable text.", code="document_empty")
    document = KbDocument(
        id=uuid.uuid4(), org_id=org_id, kb_id=kb_id, filename=body.filename,
        content_type=body.content_type, size_bytes=size_bytes, chunk_count=len(chunks),
        created_at=datetime.now(UTC),
    )
    async with transaction(db, org_id) as tx:
        await _require_kb(tx, kb_id, lock=True)
        tx.add(document)
        await tx.flush()
        await tx.execute(insert(KbChunk), [
            {"id": uuid.uuid4(), "org_id": org_id, "kb_id": kb_id, "document_id": document.id,
             "ordinal": chunk.ordinal, "text": chunk.text}
            for chunk in chunks
        ])
    return DocumentPublic.model_validate(document)


async def list_documents(
    db: SessionMaker, principal: Principal, org_id: UUID, kb_id: UUID
) -> list[DocumentPublic]:
    require_member(principal, org_id)
    async with transaction(db, org_id) as tx:
        await _require_kb(tx, kb_id)
        rows = (await tx.execute(
            select(KbDocument).where(KbDocument.kb_id == kb_id)
            .order_by(col(KbDocument.created_at), col(KbDocument.id))
        )).scalars().all()
    return [DocumentPublic.model_validate(d) for d in rows]


async def delete_document(
    db: SessionMaker, principal: Principal, org_id: UUID, kb_id: UUID, document_id: UUID
) -> None:
    require_admin(principal, org_id)
    async with transaction(db, org_id) as tx:
        await _require_kb(tx, kb_id)
        document = await tx.get(KbDocument, document_id)
        if document is None or document.kb_id != kb_id:
            raise NotFound("No such document in this knowledge base.", code="document_not_found")
        await tx.delete(document)


# --- search ----------------------------------------------------------------------------------


async def search_kb(
    db: SessionMaker, search: KnowledgeSearch, principal: Principal, org_id: UUID, kb_id: UUID,
    query: str, k: int,
) -> SearchResults:
    """A member tries out one KB: the passages the bot would be given for ``query``."""
    require_member(principal, org_id)
    async with transaction(db, org_id) as tx:
        await _require_kb(tx, kb_id)
    return SearchResults(hits=await search.search(org_id, [kb_id], query, k))


async def search_for_service(
    search: KnowledgeSearch, principal: Principal, body: SearchRequest
) -> SearchResults:
    """The bot's search; KBs that are not (or no longer) in the org are skipped, not an error."""
    require_service(principal)
    return SearchResults(hits=await search.search(body.org_id, body.kb_ids, body.query, body.k))


# --- session links ---------------------------------------------------------------------------


async def link_kbs(tx: AsyncSession, org_id: UUID, session_id: UUID, kb_ids: Sequence[UUID]) -> None:
    """Link KBs to a new session in the caller's transaction; 404 unless every KB is the org's."""
    wanted = list(dict.fromkeys(kb_ids))
    if not wanted:
        return
    found = set((await tx.execute(
        select(KnowledgeBase.id).where(
            col(KnowledgeBase.id).in_(wanted), KnowledgeBase.org_id == org_id
        )
    )).scalars())
    missing = [str(kb_id) for kb_id in wanted if kb_id not in found]
    if missing:
        raise _kb_not_found(kbIds=missing)
    now = datetime.now(UTC)
    tx.add_all([
        VoiceSessionKb(session_id=session_id, kb_id=kb_id, org_id=org_id, enabled=True, created_at=now)
        for kb_id in wanted
    ])
    await tx.flush()


async def enabled_kb_ids(tx: AsyncSession, session_id: UUID) -> list[UUID]:
    """The KBs the session's bot may search, in the order they were linked."""
    link = VoiceSessionKb
    return list((await tx.execute(
        select(link.kb_id).where(link.session_id == session_id, link.enabled)
        .order_by(col(link.created_at), col(link.kb_id))
    )).scalars())


async def _session(
    tx: AsyncSession, principal: Principal, org_id: UUID, session_id: UUID, *, change: bool
) -> VoiceSession:
    # Imported here: session_svc.service imports this module to link KBs at session creation.
    from session_svc.service import require_session

    session, _ = await require_session(
        tx, principal, org_id, session_id, "manage" if change else "view", lock=change
    )
    if change and SessionStatus(session.status) in TERMINAL:
        raise Conflict(f"The session is {session.status}; its knowledge bases can no longer change.",
                       code="session_ended")
    return session


def _link_public(link: VoiceSessionKb, name: str) -> KbLinkPublic:
    return KbLinkPublic(kb_id=link.kb_id, name=name, enabled=link.enabled, created_at=link.created_at)


async def _require_link(tx: AsyncSession, session_id: UUID, kb_id: UUID) -> tuple[VoiceSessionKb, str]:
    row = (await tx.execute(
        select(VoiceSessionKb, col(KnowledgeBase.name))
        .join(KnowledgeBase, col(KnowledgeBase.id) == VoiceSessionKb.kb_id)
        .where(VoiceSessionKb.session_id == session_id, VoiceSessionKb.kb_id == kb_id)
    )).first()
    if row is None:
        raise NotFound("This knowledge base is not linked to the session.", code="kb_link_not_found")
    return row[0], row[1]


async def list_session_kbs(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID
) -> list[KbLinkPublic]:
    async with transaction(db, org_id) as tx:
        await _session(tx, principal, org_id, session_id, change=False)
        rows = (await tx.execute(
            select(VoiceSessionKb, col(KnowledgeBase.name))
            .join(KnowledgeBase, col(KnowledgeBase.id) == VoiceSessionKb.kb_id)
            .where(VoiceSessionKb.session_id == session_id)
            .order_by(col(VoiceSessionKb.created_at), col(KnowledgeBase.name))
        )).all()
    return [_link_public(link, name) for link, name in rows]


async def add_session_kb(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID, body: KbLinkCreate
) -> KbLinkPublic:
    async with transaction(db, org_id) as tx:
        await _session(tx, principal, org_id, session_id, change=True)
        kb = await _require_kb(tx, body.kb_id)
        if await tx.get(VoiceSessionKb, (session_id, body.kb_id)) is not None:
            raise Conflict("This knowledge base is already linked to the session; PATCH the link "
                           "to enable or disable it.", code="kb_already_linked")
        link = VoiceSessionKb(session_id=session_id, kb_id=kb.id, org_id=org_id,
                              enabled=body.enabled, created_at=datetime.now(UTC))
        tx.add(link)
    return _link_public(link, kb.name)


async def update_session_kb(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID, kb_id: UUID,
    body: KbLinkUpdate,
) -> KbLinkPublic:
    async with transaction(db, org_id) as tx:
        await _session(tx, principal, org_id, session_id, change=True)
        link, name = await _require_link(tx, session_id, kb_id)
        link.enabled = body.enabled
        tx.add(link)
    return _link_public(link, name)


async def remove_session_kb(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID, kb_id: UUID
) -> None:
    async with transaction(db, org_id) as tx:
        await _session(tx, principal, org_id, session_id, change=True)
        link, _ = await _require_link(tx, session_id, kb_id)
        await tx.delete(link)
