"""Knowledge-base routes: the gateway's /api/voice/kbs and session links, and the bot's search."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from session_svc.deps import SettingsDep
from session_svc.knowledge import service
from session_svc.knowledge.ports import KnowledgeSearch
from session_svc.knowledge.postgres import PostgresKnowledgeSearch
from voice_shared.api.common import Page
from voice_shared.api.kbs import (
    DocumentCreate,
    DocumentPublic,
    KbCreate,
    KbPublic,
    SearchRequest,
    SearchResults,
)
from voice_shared.api.sessions import KbLinkCreate, KbLinkPublic, KbLinkUpdate
from voice_shared.auth import PrincipalDep
from voice_shared.deps import Cursor, DbDep, Limit, OrgIdQuery

router = APIRouter()


async def get_search(request: Request) -> KnowledgeSearch:
    """The app's search adapter: ``app.state.knowledge_search`` if set, else Postgres full text."""
    search: KnowledgeSearch | None = getattr(request.app.state, "knowledge_search", None)
    if search is None:
        search = request.app.state.knowledge_search = PostgresKnowledgeSearch(request.app.state.sessions)
    return search


SearchDep = Annotated[KnowledgeSearch, Depends(get_search)]
SearchText = Annotated[str, Query(alias="q", min_length=1, max_length=2000, description="What to look for.")]
TopK = Annotated[int, Query(ge=1, le=50, description="How many passages at most.")]


# --- knowledge bases -------------------------------------------------------------------------


@router.post("/api/voice/kbs", status_code=status.HTTP_201_CREATED)
async def create_kb(org_id: OrgIdQuery, body: KbCreate, principal: PrincipalDep, db: DbDep) -> KbPublic:
    return await service.create_kb(db, principal, org_id, body)


@router.get("/api/voice/kbs")
async def list_kbs(
    org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[KbPublic]:
    return await service.list_kbs(db, principal, org_id, limit, cursor)


@router.get("/api/voice/kbs/{kb_id}")
async def get_kb(kb_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep) -> KbPublic:
    return await service.get_kb(db, principal, org_id, kb_id)


@router.delete("/api/voice/kbs/{kb_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_kb(kb_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep) -> Response:
    await service.delete_kb(db, principal, org_id, kb_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/api/voice/kbs/{kb_id}/documents", status_code=status.HTTP_201_CREATED)
async def add_document(
    kb_id: UUID, org_id: OrgIdQuery, body: DocumentCreate, principal: PrincipalDep, db: DbDep,
    settings: SettingsDep,
) -> DocumentPublic:
    return await service.add_document(db, principal, org_id, kb_id, body, settings.max_document_bytes)


@router.get("/api/voice/kbs/{kb_id}/documents")
async def list_documents(
    kb_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep
) -> list[DocumentPublic]:
    return await service.list_documents(db, principal, org_id, kb_id)


@router.delete("/api/voice/kbs/{kb_id}/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(
    kb_id: UUID, document_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep
) -> Response:
    await service.delete_document(db, principal, org_id, kb_id, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/voice/kbs/{kb_id}/search")
async def search_kb(
    kb_id: UUID, org_id: OrgIdQuery, q: SearchText, principal: PrincipalDep, db: DbDep,
    search: SearchDep, k: TopK = 5,
) -> SearchResults:
    return await service.search_kb(db, search, principal, org_id, kb_id, q, k)


# --- session links ---------------------------------------------------------------------------


@router.get("/api/voice/sessions/{session_id}/kbs")
async def list_session_kbs(
    session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep
) -> list[KbLinkPublic]:
    return await service.list_session_kbs(db, principal, org_id, session_id)


@router.post("/api/voice/sessions/{session_id}/kbs", status_code=status.HTTP_201_CREATED)
async def add_session_kb(
    session_id: UUID, org_id: OrgIdQuery, body: KbLinkCreate, principal: PrincipalDep, db: DbDep
) -> KbLinkPublic:
    return await service.add_session_kb(db, principal, org_id, session_id, body)


@router.patch("/api/voice/sessions/{session_id}/kbs/{kb_id}")
async def update_session_kb(
    session_id: UUID, kb_id: UUID, org_id: OrgIdQuery, body: KbLinkUpdate, principal: PrincipalDep,
    db: DbDep,
) -> KbLinkPublic:
    return await service.update_session_kb(db, principal, org_id, session_id, kb_id, body)


@router.delete("/api/voice/sessions/{session_id}/kbs/{kb_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_session_kb(
    session_id: UUID, kb_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep
) -> Response:
    await service.remove_session_kb(db, principal, org_id, session_id, kb_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- internal --------------------------------------------------------------------------------


@router.post("/internal/kb/search")
async def search_for_service(body: SearchRequest, principal: PrincipalDep, search: SearchDep) -> SearchResults:
    """The bot's grounding search; service identities only."""
    return await service.search_for_service(search, principal, body)
