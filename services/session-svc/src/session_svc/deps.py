"""FastAPI dependencies of session-svc's internal API."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query, Request

from session_svc.settings import SessionSettings
from voice_shared.auth import Principal, PrincipalDep
from voice_shared.db import SessionMaker
from voice_shared.errors import Forbidden, NotFound
from voice_shared.outbox import OutboxRelay


async def get_sessions(request: Request) -> SessionMaker:
    return request.app.state.sessions


async def get_settings(request: Request) -> SessionSettings:
    return request.app.state.settings


async def get_relay(request: Request) -> OutboxRelay:
    return request.app.state.relay


DbDep = Annotated[SessionMaker, Depends(get_sessions)]
SettingsDep = Annotated[SessionSettings, Depends(get_settings)]
RelayDep = Annotated[OutboxRelay, Depends(get_relay)]
OrgIdQuery = Annotated[UUID, Query(alias="orgId", description="The organisation acted in.")]


def require_member(principal: Principal, org_id: UUID) -> None:
    """Non-members get 404: an org they do not belong to does not exist for them."""
    if not principal.is_member(org_id):
        raise NotFound("No such resource in this organisation.", code="not_found")


def require_admin(principal: Principal, org_id: UUID) -> None:
    require_member(principal, org_id)
    if not principal.is_org_admin(org_id):
        raise Forbidden("Only org admins and owners may do this.", code="admin_required")


__all__ = ["PrincipalDep", "DbDep", "SettingsDep", "RelayDep", "OrgIdQuery"]
