"""Re-wrapping every local secret's data key under the current KEK (``voice rotate-kek``).

Only the wrapped data keys change; ciphertexts stay. The rows to re-wrap come, a page of ids at a
time, from ``credentials_to_rewrap`` (a SECURITY DEFINER function: the application role sees no
row of any org without that org's scope). Each page is one transaction that switches the tenant
setting to each org in turn (and turns the platform scope on), so Row Level Security still
decides what every statement may touch. Services keep running throughout: a row records the id of
the KEK that wraps it, and a keyring holding the old and new keys opens both kinds.

Zero-downtime order: (1) give every instance the new key in VOICE_PREVIOUS_KEKS, (2) make it
VOICE_KEK with the old one in VOICE_PREVIOUS_KEKS, (3) run ``voice rotate-kek``, (4) drop the old
key once it reports nothing left to do.
"""

from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlmodel import col, select

from session_svc.credentials.local import LocalEnvelopeStore
from session_svc.credentials.ports import SecretBinding, SecretUnreadable
from session_svc.credentials.repository import enable_platform_rows
from session_svc.models import VoiceCredential
from session_svc.settings import SCHEMA
from voice_shared.db import TENANT_SETTING, SessionMaker

log = structlog.get_logger()

NIL = UUID(int=0)


@dataclass
class RotationReport:
    kek_id: str
    rewrapped: int = 0
    already_current: int = 0
    failed: int = 0
    batches: int = 0
    failed_ids: list[UUID] | None = None


def _org_key(pair: tuple[UUID | None, UUID]) -> str:
    return str(pair[0] or "")


async def rotate_kek(
    db: SessionMaker, store: LocalEnvelopeStore, *, batch_size: int = 100, max_batches: int | None = None,
    schema: str = SCHEMA, on_batch: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    """Re-wrap every local row not under ``store``'s primary KEK; rows it cannot open are counted
    as failed (and skipped) rather than stopping the rotation."""
    target = store.keyring.primary_id
    report = RotationReport(kek_id=target, failed_ids=[])
    after = NIL
    while max_batches is None or report.batches < max_batches:
        async with db() as session:
            page = [(r[0], r[1]) for r in (await session.execute(
                text(f"SELECT org_id, credential_id FROM {schema}.credentials_to_rewrap(:kek, :after, :n)"),
                {"kek": target, "after": after, "n": batch_size},
            )).all()]
        if not page:
            break
        async with db() as session, session.begin():
            await enable_platform_rows(session)
            for org, pairs in groupby(sorted(page, key=_org_key), key=_org_key):
                await session.execute(text("select set_config(:name, :org, true)"),
                                      {"name": TENANT_SETTING, "org": org})
                ids = [credential_id for _, credential_id in pairs]
                c = VoiceCredential
                rows = (await session.execute(
                    select(c).where(col(c.id).in_(ids), col(c.backend) == "local").with_for_update()
                )).scalars().all()
                for row in rows:
                    if row.kek_id == target:  # re-wrapped (or rewritten) since the page was read
                        report.already_current += 1
                        continue
                    try:
                        row.wrapped_key = store.rewrap(
                            SecretBinding(row.org_id, row.id), row.wrapped_key or b"", row.kek_id)
                    except SecretUnreadable as e:
                        report.failed += 1
                        report.failed_ids.append(row.id)  # type: ignore[union-attr]
                        log.error("kek_rewrap_failed", credential_id=str(row.id), kek_id=row.kek_id,
                                  reason=e.details)
                        continue
                    row.kek_id = target
                    report.rewrapped += 1
        report.batches += 1
        after = max(credential_id for _, credential_id in page)
        log.info("kek_rotation_batch", batch=report.batches, kek_id=target, rewrapped=report.rewrapped,
                 failed=report.failed)
        if on_batch is not None:
            on_batch(report)
    return report
