"""Credential routes: org scope (/api/voice/credentials), platform scope
(/api/voice/admin/credentials), and the internal endpoint that hands a key to the bot."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from session_svc.credentials import service
from session_svc.credentials.bootstrap import secret_stores_for
from session_svc.credentials.ports import SecretStores
from session_svc.credentials.repository import PLATFORM, Scope
from session_svc.deps import SettingsDep
from voice_shared.api.common import Page
from voice_shared.api.credentials import (
    CredentialCreate,
    CredentialPublic,
    CredentialService,
    CredentialUpdate,
    ResolvedCredential,
    ValidationResult,
)
from voice_shared.auth import PrincipalDep
from voice_shared.deps import Cursor, DbDep, Limit, OrgIdQuery

router = APIRouter()


async def get_stores(request: Request) -> SecretStores:
    """The app's secret stores (``app.state.secret_stores``), else built from its settings."""
    stores: SecretStores | None = getattr(request.app.state, "secret_stores", None)
    return stores or secret_stores_for(request.app.state.settings)


async def org_scope(org_id: OrgIdQuery) -> Scope:
    return Scope(org_id)


async def platform_scope() -> Scope:
    return PLATFORM


StoresDep = Annotated[SecretStores, Depends(get_stores)]
ServiceFilter = Annotated[CredentialService | None, Query(alias="service", description="Only this provider's.")]
ActiveFilter = Annotated[bool | None, Query(description="Only active (or inactive) ones.")]


def _routes(prefix: str, scope_dep: object) -> None:
    """The same six routes at org scope and at platform scope."""
    ScopeDep = Annotated[Scope, Depends(scope_dep)]  # type: ignore[call-overload]  # noqa: N806

    @router.post(prefix, status_code=status.HTTP_201_CREATED, name=f"create{prefix}")
    async def create(
        body: CredentialCreate, scope: ScopeDep, principal: PrincipalDep, db: DbDep, stores: StoresDep
    ) -> CredentialPublic:
        return await service.create_credential(db, stores, principal, scope, body)

    @router.get(prefix, name=f"list{prefix}")
    async def list_(
        scope: ScopeDep, principal: PrincipalDep, db: DbDep, service_: ServiceFilter = None,
        active: ActiveFilter = None, limit: Limit = 50, cursor: Cursor = None,
    ) -> Page[CredentialPublic]:
        return await service.list_credentials(db, principal, scope, service=service_, active=active,
                                              limit=limit, cursor=cursor)

    @router.get(prefix + "/{credential_id}", name=f"get{prefix}")
    async def get(credential_id: UUID, scope: ScopeDep, principal: PrincipalDep, db: DbDep) -> CredentialPublic:
        return await service.get_credential(db, principal, scope, credential_id)

    @router.patch(prefix + "/{credential_id}", name=f"update{prefix}")
    async def update(
        credential_id: UUID, body: CredentialUpdate, scope: ScopeDep, principal: PrincipalDep,
        db: DbDep, stores: StoresDep,
    ) -> CredentialPublic:
        return await service.update_credential(db, stores, principal, scope, credential_id, body)

    @router.delete(prefix + "/{credential_id}", status_code=status.HTTP_204_NO_CONTENT, name=f"delete{prefix}")
    async def delete(
        credential_id: UUID, scope: ScopeDep, principal: PrincipalDep, db: DbDep, stores: StoresDep
    ) -> Response:
        await service.delete_credential(db, stores, principal, scope, credential_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(prefix + "/{credential_id}/validate", name=f"validate{prefix}")
    async def validate(
        credential_id: UUID, scope: ScopeDep, principal: PrincipalDep, db: DbDep, stores: StoresDep,
        settings: SettingsDep,
    ) -> ValidationResult:
        return await service.validate_credential(db, stores, settings, principal, scope, credential_id)


_routes("/api/voice/credentials", org_scope)
_routes("/api/voice/admin/credentials", platform_scope)


@router.get("/internal/credentials/{credential_service}")
async def resolve(
    credential_service: CredentialService, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep,
    stores: StoresDep, settings: SettingsDep,
) -> ResolvedCredential:
    """The key a session of the org uses for a service (org, else platform); services only."""
    return await service.resolve_for_service(db, stores, settings, principal, org_id, credential_service)
