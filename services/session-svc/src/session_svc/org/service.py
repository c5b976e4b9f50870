"""Read and change an organisation's settings; a change is announced (transcript-svc applies the
retention) in the same transaction."""

from dataclasses import dataclass
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


async def concurrency_limit(tx: AsyncSession, org_id: UUID, default: int) -> int:
    """Interviews the org may run at once: its own limit, or the platform's default."""
    row = await tx.get(OrgSettings, org_id)
    return row.max_concurrent_interviews if row and row.max_concurrent_interviews else default


def _public(row: OrgSettings | None, defaults: "OrgDefaults") -> OrgSettingsPublic:
    own_limit = row.max_concurrent_interviews if row else None
    return OrgSettingsPublic(
        retention_days=row.retention_days if row else defaults.retention_days, is_default=row is None,
        max_concurrent_interviews=own_limit or defaults.max_concurrent_interviews,
        max_concurrent_interviews_is_default=own_limit is None,
        updated_by=row.updated_by if row else None, updated_at=row.updated_at if row else None,
    )


@dataclass(frozen=True)
class OrgDefaults:
    """The platform's values where an org has set none."""

    retention_days: int
    max_concurrent_interviews: int


async def get_settings(
    db: SessionMaker, principal: Principal, org_id: UUID, defaults: OrgDefaults,
) -> OrgSettingsPublic:
    require_member(principal, org_id)
    async with transaction(db, org_id) as tx:
        row = await tx.get(OrgSettings, org_id)
    return _public(row, defaults)


async def update_settings(
    db: SessionMaker, principal: Principal, org_id: UUID, body: OrgSettingsUpdate, correlation_id: str,
    defaults: OrgDefaults,
) -> OrgSettingsPublic:
    """Replace the org's settings (an omitted limit goes back to the platform's default)."""
    require_admin(principal, org_id)
    async with transaction(db, org_id) as tx:
        row = await tx.get(OrgSettings, org_id, with_for_update=True)
        now = datetime.now(UTC)
        if row is None:
            row = OrgSettings(org_id=org_id, retention_days=body.retention_days, updated_by=principal.sub,
                              updated_at=now)
        row.retention_days, row.updated_by, row.updated_at = body.retention_days, principal.sub, now
        row.max_concurrent_interviews = body.max_concurrent_interviews
        tx.add(row)
        await add_to_outbox(tx, SCHEMA, envelope(OrgSettingsUpdated(retention_days=body.retention_days),
                                                 org_id=org_id, correlation_id=correlation_id))
    return _public(row, defaults)
