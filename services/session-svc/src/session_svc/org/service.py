"""Read and change an organisation's settings; a change is announced (transcript-svc applies the
retention) in the same transaction."""

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from session_svc.org.models import OrgSettings
from session_svc.permissions import require_admin, require_member
from session_svc.settings import SCHEMA
from voice_shared.api.org import OrgSettingsPublic, OrgSettingsUpdate
from voice_shared.auth import Principal
from voice_shared.contracts import OrgSettingsUpdated, envelope
from voice_shared.db import SessionMaker, transaction
from voice_shared.outbox import add_to_outbox


async def retention_days(tx: AsyncSession, org_id: UUID, default: int) -> int:
    """The org's retention, or the platform's default where it set none."""
    row = await tx.get(OrgSettings, org_id)
    return row.retention_days if row else default


async def get_settings(db: SessionMaker, principal: Principal, org_id: UUID, default_days: int) -> OrgSettingsPublic:
    require_member(principal, org_id)
    async with transaction(db, org_id) as tx:
        row = await tx.get(OrgSettings, org_id)
    if row is None:
        return OrgSettingsPublic(retention_days=default_days, is_default=True)
    return OrgSettingsPublic(retention_days=row.retention_days, is_default=False, updated_by=row.updated_by,
                             updated_at=row.updated_at)


async def update_settings(
    db: SessionMaker, principal: Principal, org_id: UUID, body: OrgSettingsUpdate, correlation_id: str,
) -> OrgSettingsPublic:
    require_admin(principal, org_id)
    async with transaction(db, org_id) as tx:
        row = await tx.get(OrgSettings, org_id, with_for_update=True)
        now = datetime.now(UTC)
        if row is None:
            row = OrgSettings(org_id=org_id, retention_days=body.retention_days, updated_by=principal.sub,
                              updated_at=now)
            tx.add(row)
        else:
            row.retention_days, row.updated_by, row.updated_at = body.retention_days, principal.sub, now
        await add_to_outbox(tx, SCHEMA, envelope(OrgSettingsUpdated(retention_days=body.retention_days),
                                                 org_id=org_id, correlation_id=correlation_id))
    return OrgSettingsPublic(retention_days=row.retention_days, is_default=False, updated_by=row.updated_by,
                             updated_at=row.updated_at)
