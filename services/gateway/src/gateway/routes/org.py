"""The organisation's settings, and a candidate's erasure (org admins)."""

from typing import Annotated

from fastapi import Query, Request, Response

from gateway.routes.common import PublicRouter
from gateway.upstream import forward
from voice_shared.api.common import Email
from voice_shared.api.org import ErasureReceipt, OrgSettingsPublic, OrgSettingsUpdate
from voice_shared.deps import OrgIdQuery

router = PublicRouter("organisation")


@router.get("/settings", response_model=OrgSettingsPublic)
async def get_settings(request: Request, org_id: OrgIdQuery) -> Response:
    """The organisation's settings: how long interview records are kept."""
    return await forward(request)


@router.put("/settings", response_model=OrgSettingsPublic)
async def update_settings(request: Request, org_id: OrgIdQuery, body: OrgSettingsUpdate) -> Response:
    """Change the settings (org admins). A shorter retention applies at the next sweep."""
    return await forward(request, body)


@router.delete("/candidates", response_model=ErasureReceipt)
async def erase_candidate(
    request: Request, org_id: OrgIdQuery, email: Annotated[Email, Query(description="The candidate's email.")],
) -> Response:
    """Erase a candidate's personal data in every service (org admins): their sessions lose name,
    email and metadata (running ones are cancelled); their transcripts, segments and archived files go.
    Answers a receipt of what was removed where, kept as an audit record without personal data."""
    return await forward(request)
