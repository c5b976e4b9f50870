"""Routes: the gateway's /api/voice/settings."""

from fastapi import APIRouter, Request

from session_svc.deps import SettingsDep
from session_svc.org import service
from session_svc.settings import SessionSettings
from voice_shared.api.org import OrgSettingsPublic, OrgSettingsUpdate
from voice_shared.auth import PrincipalDep
from voice_shared.deps import DbDep, OrgIdQuery, RelayDep

router = APIRouter(prefix="/api/voice")


def defaults(settings: SessionSettings) -> service.OrgDefaults:
    return service.OrgDefaults(settings.data_retention_days, settings.max_concurrent_interviews)


@router.get("/settings")
async def get_settings(
    org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep, settings: SettingsDep
) -> OrgSettingsPublic:
    return await service.get_settings(db, principal, org_id, defaults(settings))


@router.put("/settings")
async def update_settings(
    org_id: OrgIdQuery, body: OrgSettingsUpdate, principal: PrincipalDep, db: DbDep, relay: RelayDep, request: Request,
    settings: SettingsDep,
) -> OrgSettingsPublic:
    updated = await service.update_settings(db, principal, org_id, body, str(request.state.correlation_id),
                                            defaults(settings))
    relay.wake()
    return updated
