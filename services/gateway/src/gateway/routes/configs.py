"""Interview configs."""

from typing import Annotated
from uuid import UUID

from fastapi import Path, Request, Response, status

from gateway.routes.common import PublicRouter
from gateway.upstream import forward
from voice_shared.api.common import Page
from voice_shared.api.configs import ConfigCreate, ConfigPublic, ConfigUpdate, ConfigVersionPublic
from voice_shared.deps import Cursor, Limit, OrgIdQuery

router = PublicRouter("configs")


@router.post("/configs", status_code=status.HTTP_201_CREATED, response_model=ConfigPublic)
async def create_config(request: Request, org_id: OrgIdQuery, body: ConfigCreate) -> Response:
    """Create a config (org admins); it starts at version 1."""
    return await forward(request, body)


@router.get("/configs", response_model=Page[ConfigPublic])
async def list_configs(
    request: Request, org_id: OrgIdQuery, active: bool | None = None, limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The org's configs, newest first."""
    return await forward(request)


@router.get("/configs/{config_id}", response_model=ConfigPublic)
async def get_config(request: Request, config_id: UUID, org_id: OrgIdQuery) -> Response:
    """One config at its current version."""
    return await forward(request)


@router.patch("/configs/{config_id}", response_model=ConfigPublic)
async def update_config(request: Request, config_id: UUID, org_id: OrgIdQuery, body: ConfigUpdate) -> Response:
    """Change any fields (org admins); a real change bumps the version."""
    return await forward(request, body)


@router.delete("/configs/{config_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_config(request: Request, config_id: UUID, org_id: OrgIdQuery) -> Response:
    """Delete a config no session uses (org admins); otherwise deactivate it."""
    return await forward(request)


@router.get("/configs/{config_id}/versions/{version}", response_model=ConfigVersionPublic)
async def get_config_version(
    request: Request, config_id: UUID, version: Annotated[int, Path(ge=1, le=1_000_000)],
    org_id: OrgIdQuery,
) -> Response:
    """One stored version of a config, as sessions created on it run it."""
    return await forward(request)
