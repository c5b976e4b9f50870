"""Provider credentials: the org's (org admins and owners) and the platform's (platform admins).

Secrets go in, never out: answers show a masked tail and a fingerprint.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request, Response, status

from gateway.routes.common import ErrorResponse, PublicRouter
from gateway.upstream import forward
from voice_shared.api.common import Page
from voice_shared.api.credentials import (
    CredentialCreate,
    CredentialPublic,
    CredentialService,
    CredentialUpdate,
    ValidationResult,
)
from voice_shared.deps import Cursor, Limit, OrgIdQuery

router = PublicRouter("credentials")

ServiceFilter = Annotated[CredentialService | None, Query(alias="service", description="Only this provider's.")]
ActiveFilter = Annotated[bool | None, Query(description="Only active (or only inactive) ones.")]
Responses = dict[int | str, dict[str, Any]]
PLATFORM_ONLY: Responses = {403: {
    "model": ErrorResponse, "description": "The caller is not a platform admin (`platform_admin_required`)."}}
CREATE_CONFLICT: Responses = {409: {
    "model": ErrorResponse,
    "description": "The scope already has an active credential for the service (`credential_already_active`).",
}}

# --- organisation scope ----------------------------------------------------------------------


@router.post("/credentials", status_code=status.HTTP_201_CREATED, response_model=CredentialPublic,
             responses=CREATE_CONFLICT)
async def create_credential(request: Request, org_id: OrgIdQuery, body: CredentialCreate) -> Response:
    """Add a provider key for the organisation (org admins and owners)."""
    return await forward(request, body)


@router.get("/credentials", response_model=Page[CredentialPublic])
async def list_credentials(
    request: Request, org_id: OrgIdQuery, service: ServiceFilter = None, active: ActiveFilter = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Response:
    """The organisation's credentials, newest first (never their secrets)."""
    return await forward(request)


@router.get("/credentials/{credential_id}", response_model=CredentialPublic)
async def get_credential(request: Request, credential_id: UUID, org_id: OrgIdQuery) -> Response:
    """One credential."""
    return await forward(request)


@router.patch("/credentials/{credential_id}", response_model=CredentialPublic)
async def update_credential(
    request: Request, credential_id: UUID, org_id: OrgIdQuery, body: CredentialUpdate
) -> Response:
    """Rename, replace the secret, change metadata, or (de)activate; activating replaces the
    active credential of the same service."""
    return await forward(request, body)


@router.delete("/credentials/{credential_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_credential(request: Request, credential_id: UUID, org_id: OrgIdQuery) -> Response:
    """Delete a credential and its stored secret."""
    return await forward(request)


@router.post("/credentials/{credential_id}/validate", response_model=ValidationResult)
async def validate_credential(request: Request, credential_id: UUID, org_id: OrgIdQuery) -> Response:
    """Call the provider with the key and record what it said."""
    return await forward(request)


# --- platform scope --------------------------------------------------------------------------


@router.post("/admin/credentials", status_code=status.HTTP_201_CREATED, response_model=CredentialPublic,
             responses={**PLATFORM_ONLY, **CREATE_CONFLICT})
async def create_platform_credential(request: Request, body: CredentialCreate) -> Response:
    """Add a platform key, used by every organisation without its own (platform admins)."""
    return await forward(request, body)


@router.get("/admin/credentials", response_model=Page[CredentialPublic], responses=PLATFORM_ONLY)
async def list_platform_credentials(
    request: Request, service: ServiceFilter = None, active: ActiveFilter = None, limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The platform's credentials, newest first."""
    return await forward(request)


@router.get("/admin/credentials/{credential_id}", response_model=CredentialPublic, responses=PLATFORM_ONLY)
async def get_platform_credential(request: Request, credential_id: UUID) -> Response:
    """One platform credential."""
    return await forward(request)


@router.patch("/admin/credentials/{credential_id}", response_model=CredentialPublic, responses=PLATFORM_ONLY)
async def update_platform_credential(request: Request, credential_id: UUID, body: CredentialUpdate) -> Response:
    """Change a platform credential; activating replaces the active one of the same service."""
    return await forward(request, body)


@router.delete("/admin/credentials/{credential_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=PLATFORM_ONLY)
async def delete_platform_credential(request: Request, credential_id: UUID) -> Response:
    """Delete a platform credential and its stored secret."""
    return await forward(request)


@router.post("/admin/credentials/{credential_id}/validate", response_model=ValidationResult,
             responses=PLATFORM_ONLY)
async def validate_platform_credential(request: Request, credential_id: UUID) -> Response:
    """Call the provider with a platform key and record what it said."""
    return await forward(request)
