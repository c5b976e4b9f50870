"""Knowledge bases, their documents and search, and the ones linked to a session."""

from typing import Annotated
from uuid import UUID

from fastapi import Query, Request, Response, status

from gateway.routes.common import PublicRouter
from gateway.upstream import forward
from voice_shared.api.common import Page
from voice_shared.api.kbs import DocumentCreate, DocumentPublic, KbCreate, KbPublic, SearchResults
from voice_shared.api.sessions import KbLinkCreate, KbLinkPublic, KbLinkUpdate
from voice_shared.deps import Cursor, Limit, OrgIdQuery

router = PublicRouter("knowledge bases")


@router.post("/kbs", status_code=status.HTTP_201_CREATED, response_model=KbPublic)
async def create_kb(request: Request, org_id: OrgIdQuery, body: KbCreate) -> Response:
    """Create an empty knowledge base."""
    return await forward(request, body)


@router.get("/kbs", response_model=Page[KbPublic])
async def list_kbs(request: Request, org_id: OrgIdQuery, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """The org's knowledge bases, newest first."""
    return await forward(request)


@router.get("/kbs/{kb_id}", response_model=KbPublic)
async def get_kb(request: Request, kb_id: UUID, org_id: OrgIdQuery) -> Response:
    """One knowledge base."""
    return await forward(request)


@router.delete("/kbs/{kb_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_kb(request: Request, kb_id: UUID, org_id: OrgIdQuery) -> Response:
    """Delete a knowledge base with its documents."""
    return await forward(request)


@router.post("/kbs/{kb_id}/documents", status_code=status.HTTP_201_CREATED,
             response_model=DocumentPublic)
async def add_document(request: Request, kb_id: UUID, org_id: OrgIdQuery, body: DocumentCreate) -> Response:
    """Add a text or markdown document; it is chunked and indexed for search."""
    return await forward(request, body)


@router.get("/kbs/{kb_id}/documents", response_model=list[DocumentPublic])
async def list_documents(request: Request, kb_id: UUID, org_id: OrgIdQuery) -> Response:
    """The knowledge base's documents."""
    return await forward(request)


@router.delete("/kbs/{kb_id}/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(request: Request, kb_id: UUID, document_id: UUID, org_id: OrgIdQuery) -> Response:
    """Remove a document and its chunks."""
    return await forward(request)


@router.get("/kbs/{kb_id}/search", response_model=SearchResults)
async def search_kb(
    request: Request, kb_id: UUID, org_id: OrgIdQuery,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="Words to look for.")],
    k: Annotated[int, Query(ge=1, le=50, description="How many passages.")] = 5,
) -> Response:
    """The best-matching passages, as the bot would retrieve them."""
    return await forward(request)


@router.get("/sessions/{session_id}/kbs", response_model=list[KbLinkPublic])
async def list_session_kbs(request: Request, session_id: UUID, org_id: OrgIdQuery) -> Response:
    """The knowledge bases linked to a session."""
    return await forward(request)


@router.post("/sessions/{session_id}/kbs", status_code=status.HTTP_201_CREATED,
             response_model=KbLinkPublic)
async def link_session_kb(request: Request, session_id: UUID, org_id: OrgIdQuery, body: KbLinkCreate) -> Response:
    """Link a knowledge base of the same org to a session."""
    return await forward(request, body)


@router.patch("/sessions/{session_id}/kbs/{kb_id}", response_model=KbLinkPublic)
async def update_session_kb(
    request: Request, session_id: UUID, kb_id: UUID, org_id: OrgIdQuery, body: KbLinkUpdate
) -> Response:
    """Enable or disable a linked knowledge base for this session."""
    return await forward(request, body)


@router.delete("/sessions/{session_id}/kbs/{kb_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unlink_session_kb(request: Request, session_id: UUID, kb_id: UUID, org_id: OrgIdQuery) -> Response:
    """Unlink a knowledge base from a session."""
    return await forward(request)
