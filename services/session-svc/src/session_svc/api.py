"""session-svc's internal HTTP API: the same paths the gateway exposes, verified again here."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Path, Query, Request, Response, status
from pydantic import AwareDatetime

from session_svc import configs, service
from session_svc.deps import SettingsDep
from session_svc.dispatch import service as dispatch
from session_svc.join.api import JoinLinksDep, QueueDep
from session_svc.join.service import JoinLinks
from voice_shared.api.common import Page
from voice_shared.api.configs import ConfigCreate, ConfigPublic, ConfigUpdate, ConfigVersionPublic
from voice_shared.api.sessions import (
    SessionCreate,
    SessionPublic,
    SessionTransition,
    SessionUpdate,
    ShareCreate,
    SharePublic,
    Stats,
)
from voice_shared.auth import PrincipalDep
from voice_shared.contracts import SessionStatus
from voice_shared.deps import Cursor, DbDep, Limit, OrgIdQuery, RelayDep

router = APIRouter(prefix="/api/voice")

Transition = Annotated[SessionTransition | None, Body()]


def correlation(request: Request) -> str:
    return str(request.state.correlation_id)


# --- configs ---------------------------------------------------------------------------------


@router.post("/configs", status_code=status.HTTP_201_CREATED)
async def create_config(
    org_id: OrgIdQuery, body: ConfigCreate, principal: PrincipalDep, db: DbDep, relay: RelayDep,
    request: Request,
) -> ConfigPublic:
    created = await configs.create_config(db, principal, org_id, body, correlation(request))
    relay.wake()
    return created


@router.get("/configs")
async def list_configs(
    org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep, active: bool | None = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[ConfigPublic]:
    return await configs.list_configs(db, principal, org_id, active=active, limit=limit, cursor=cursor)


@router.get("/configs/{config_id}")
async def get_config(config_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep) -> ConfigPublic:
    return await configs.get_config(db, principal, org_id, config_id)


@router.patch("/configs/{config_id}")
async def update_config(
    config_id: UUID, org_id: OrgIdQuery, body: ConfigUpdate, principal: PrincipalDep, db: DbDep,
    relay: RelayDep, request: Request,
) -> ConfigPublic:
    updated = await configs.update_config(db, principal, org_id, config_id, body, correlation(request))
    relay.wake()
    return updated


@router.delete("/configs/{config_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_config(
    config_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep, relay: RelayDep,
    request: Request,
) -> Response:
    await configs.delete_config(db, principal, org_id, config_id, correlation(request))
    relay.wake()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/configs/{config_id}/versions/{version}")
async def get_config_version(
    config_id: UUID, version: Annotated[int, Path(ge=1, le=1_000_000)], org_id: OrgIdQuery,
    principal: PrincipalDep, db: DbDep,
) -> ConfigVersionPublic:
    return await configs.get_config_version(db, principal, org_id, config_id, version)


# --- sessions --------------------------------------------------------------------------------


@router.post("/sessions", status_code=status.HTTP_201_CREATED)
async def create_session(
    org_id: OrgIdQuery, body: SessionCreate, principal: PrincipalDep, db: DbDep, relay: RelayDep,
    request: Request, links: JoinLinksDep,
) -> SessionPublic:
    created = await service.create_session(db, principal, org_id, body, correlation(request), links)
    relay.wake()
    return created


@router.get("/sessions")
async def list_sessions(
    org_id: OrgIdQuery,
    principal: PrincipalDep,
    db: DbDep,
    links: JoinLinksDep,
    status_: Annotated[SessionStatus | None, Query(alias="status")] = None,
    workspace_id: Annotated[UUID | None, Query(alias="workspaceId")] = None,
    config_id: Annotated[UUID | None, Query(alias="configId")] = None,
    interview_type: Annotated[str | None, Query(alias="interviewType", max_length=64)] = None,
    candidate: Annotated[str | None, Query(max_length=200)] = None,
    # A timezone is required: without one the same text names a different instant on each server.
    created_from: Annotated[AwareDatetime | None, Query(alias="createdFrom")] = None,
    created_to: Annotated[AwareDatetime | None, Query(alias="createdTo")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[SessionPublic]:
    filters = service.SessionFilters(
        status=status_, workspace_id=workspace_id, config_id=config_id,
        interview_type=interview_type, candidate=candidate,
        created_from=created_from, created_to=created_to,
    )
    return await service.list_sessions(db, principal, org_id, filters, limit, cursor, links)


@router.get("/sessions/{session_id}")
async def get_session(
    session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep, links: JoinLinksDep, queue: QueueDep,
) -> SessionPublic:
    return await service.get_session(db, principal, org_id, session_id, links, queue)


@router.patch("/sessions/{session_id}")
async def update_session(
    session_id: UUID, org_id: OrgIdQuery, body: SessionUpdate, principal: PrincipalDep, db: DbDep,
    links: JoinLinksDep,
) -> SessionPublic:
    return await service.update_session(db, principal, org_id, session_id, body, links)


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(
    session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep, relay: RelayDep,
    request: Request,
) -> Response:
    await service.delete_session(db, principal, org_id, session_id, correlation(request))
    relay.wake()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _move(
    target: SessionStatus, default_reason: str | None, session_id: UUID, org_id: UUID,
    body: SessionTransition | None, principal: PrincipalDep, db: DbDep, relay: RelayDep,
    request: Request,
) -> SessionPublic:
    reason = body.reason if body and body.reason else default_reason
    moved = await service.transition(db, principal, org_id, session_id, target, reason, correlation(request),
                                     JoinLinks(request.app.state.settings), rooms=request.app.state.rooms)
    relay.wake()
    return moved


@router.post("/sessions/{session_id}/start")
async def start_session(
    session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep, relay: RelayDep,
    request: Request, body: Transition = None,
) -> SessionPublic:
    return await _move(SessionStatus.ready, None, session_id, org_id, body, principal, db, relay, request)


@router.post("/sessions/{session_id}/dispatch")
async def dispatch_session(
    session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep, relay: RelayDep,
    request: Request, links: JoinLinksDep, settings: SettingsDep,
) -> SessionPublic:
    dispatched = await dispatch.manager_dispatch(db, principal, org_id, session_id, correlation(request), settings,
                                                 links)
    relay.wake()
    return dispatched


@router.post("/sessions/{session_id}/end")
async def end_session(
    session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep, relay: RelayDep,
    request: Request, body: Transition = None,
) -> SessionPublic:
    return await _move(SessionStatus.completed, "ended_by_user", session_id, org_id, body,
                       principal, db, relay, request)


@router.post("/sessions/{session_id}/cancel")
async def cancel_session(
    session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep, relay: RelayDep,
    request: Request, body: Transition = None,
) -> SessionPublic:
    return await _move(SessionStatus.cancelled, "cancelled_by_user", session_id, org_id, body,
                       principal, db, relay, request)


# --- shares and stats ------------------------------------------------------------------------


@router.get("/sessions/{session_id}/shares")
async def list_shares(
    session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep
) -> list[SharePublic]:
    return await service.list_shares(db, principal, org_id, session_id)


@router.post("/sessions/{session_id}/shares", status_code=status.HTTP_201_CREATED)
async def create_share(
    session_id: UUID, org_id: OrgIdQuery, body: ShareCreate, principal: PrincipalDep, db: DbDep
) -> SharePublic:
    return await service.create_share(db, principal, org_id, session_id, body)


@router.delete("/sessions/{session_id}/shares/{share_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_share(
    session_id: UUID, share_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep
) -> Response:
    await service.delete_share(db, principal, org_id, session_id, share_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/stats")
async def get_stats(org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep) -> Stats:
    return await service.stats(db, principal, org_id)
