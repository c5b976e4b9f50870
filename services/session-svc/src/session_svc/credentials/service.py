"""Credentials: CRUD for org admins (org scope) and platform admins (platform scope), validation
with the provider, and resolution for service identities.

One active credential per service per scope, enforced by a unique partial index. Creating an
active credential where one exists is a 409 (``credential_already_active``); activating one with
PATCH replaces the active one in the same transaction, so keys rotate without a gap.

A secret is stored before its row is written (a remote store cannot join the transaction); if the
row is not written the new secret is forgotten again, and a replaced secret is forgotten only once
the row no longer names it.
"""

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from session_svc import repository as common
from session_svc.credentials import providers
from session_svc.credentials import repository as repo
from session_svc.credentials.ports import SecretBinding, SecretStores, StoredSecret
from session_svc.credentials.repository import ONE_ACTIVE_INDEX, Scope
from session_svc.credentials.resolve import LABELS, open_secret, resolve_credential
from session_svc.models import VoiceCredential
from session_svc.permissions import require_admin
from session_svc.settings import SessionSettings
from voice_shared.api.common import Page
from voice_shared.api.credentials import (
    CredentialCreate,
    CredentialPublic,
    CredentialService,
    CredentialUpdate,
    ResolvedCredential,
    ValidationResult,
)
from voice_shared.auth import Principal, require_service
from voice_shared.db import SessionMaker
from voice_shared.errors import Conflict, Forbidden

log = structlog.get_logger()


# --- what may be shown of a secret -------------------------------------------------------------


def mask(secret: SecretStr) -> str:
    """The last four characters of a long key, two of a middling one, none of a short one."""
    text = secret.get_secret_value()
    shown = 4 if len(text) >= 16 else 2 if len(text) >= 10 else 0
    return "****" + (text[-shown:] if shown else "")


def fingerprint(secret: SecretStr) -> str:
    """Compare with ``printf %s "$KEY" | sha256sum | cut -c1-16``."""
    return "sha256:" + hashlib.sha256(secret.get_secret_value().encode()).hexdigest()[:16]


def public(row: VoiceCredential) -> CredentialPublic:
    return CredentialPublic(
        id=row.id, scope=row.scope, org_id=row.org_id, service=row.service, name=row.name,  # type: ignore[arg-type]
        backend=row.backend, masked=row.masked, fingerprint=row.fingerprint,
        metadata=row.metadata_, active=row.active, last_validated_at=row.last_validated_at,
        last_validation_ok=row.last_validation_ok,
        last_validation_message=row.last_validation_message, created_by=row.created_by,
        created_at=row.created_at, updated_at=row.updated_at,
    )


# --- who may act -----------------------------------------------------------------------------


def authorize(principal: Principal, scope: Scope) -> None:
    """Org scope: the org's admins and owners (outsiders get 404). Platform: platform admins."""
    if scope.org_id is not None:
        require_admin(principal, scope.org_id)
    elif not principal.platform_admin or principal.service is not None:
        raise Forbidden("Only platform admins may manage platform credentials.",
                        code="platform_admin_required")


def _already_active(scope: Scope, service: str, active_id: UUID | None = None) -> Conflict:
    which = f" ({active_id})" if active_id else ""
    return Conflict(
        f"{LABELS[service]} already has an active credential in {scope.label}{which}. Create this one "
        'with "active": false and activate it with PATCH {"active": true}, which replaces the '
        "active one in one step; or deactivate or delete the active one first.",
        code="credential_already_active",
        details={"service": service, "activeCredentialId": str(active_id) if active_id else None},
    )


def _is_one_active_violation(error: IntegrityError) -> bool:
    return ONE_ACTIVE_INDEX in str(error.orig)


async def _forget(stores: SecretStores, binding: SecretBinding, stored: StoredSecret) -> None:
    """Best effort: a secret no row names any more is deleted; failing that, it is logged."""
    try:
        await stores.for_backend(stored.backend).delete(binding, stored)
    except Exception as e:  # the row is already consistent; an orphan in the store is only noted
        log.warning("credential_secret_orphaned", credential_id=str(binding.credential_id),
                    backend=stored.backend, secret_ref=stored.secret_ref, error_type=type(e).__name__)


def _audit(event: str, row: VoiceCredential, principal: Principal, **fields: Any) -> None:
    log.info(event, credential_id=str(row.id), scope=row.scope,
             org_id=str(row.org_id) if row.org_id else None, service=row.service,
             fingerprint=row.fingerprint, active=row.active, by=principal.sub, **fields)


# --- CRUD ------------------------------------------------------------------------------------


async def create_credential(
    db: SessionMaker, stores: SecretStores, principal: Principal, scope: Scope, body: CredentialCreate
) -> CredentialPublic:
    authorize(principal, scope)
    service = body.service.value
    if body.active:
        async with repo.scoped(db, scope) as tx:
            current = await repo.active_row(tx, scope, service)
        if current is not None:  # answered before anything is stored
            raise _already_active(scope, service, current.id)
    now = datetime.now(UTC)
    row = VoiceCredential(
        id=uuid.uuid4(), org_id=scope.org_id, scope=scope.kind, service=service, name=body.name,
        backend=stores.primary.backend, masked=mask(body.secret), fingerprint=fingerprint(body.secret),
        metadata_=body.metadata, active=body.active, created_by=principal.sub, created_at=now,
        updated_at=now,
    )
    binding = repo.binding(row)
    stored = await stores.primary.put(binding, body.secret)
    repo.set_stored(row, stored)
    try:
        async with repo.scoped(db, scope) as tx:
            tx.add(row)
    except IntegrityError as e:
        await _forget(stores, binding, stored)
        if _is_one_active_violation(e):
            raise _already_active(scope, service) from None
        raise
    _audit("credential_created", row, principal)
    return public(row)


async def list_credentials(
    db: SessionMaker, principal: Principal, scope: Scope, *, service: CredentialService | None,
    active: bool | None, limit: int, cursor: str | None,
) -> Page[CredentialPublic]:
    authorize(principal, scope)
    c = VoiceCredential
    where = [repo.in_scope(scope)]
    if service is not None:
        where.append(col(c.service) == service.value)
    if active is not None:
        where.append(col(c.active) == active)
    async with repo.scoped(db, scope) as tx:
        rows = (await tx.execute(common.page_after(select(c).where(*where), c, cursor, limit))).scalars().all()
        total = await repo.count(tx, *where)
    page, next_cursor = common.page_of(rows, limit, lambda r: (r.created_at, r.id))
    return Page[CredentialPublic](items=[public(r) for r in page], total=total, next_cursor=next_cursor)


async def get_credential(
    db: SessionMaker, principal: Principal, scope: Scope, credential_id: UUID
) -> CredentialPublic:
    authorize(principal, scope)
    async with repo.scoped(db, scope) as tx:
        return public(await repo.get_row(tx, scope, credential_id))


async def update_credential(
    db: SessionMaker, stores: SecretStores, principal: Principal, scope: Scope, credential_id: UUID,
    body: CredentialUpdate,
) -> CredentialPublic:
    authorize(principal, scope)
    binding = SecretBinding(scope.org_id, credential_id)
    new: StoredSecret | None = None
    if body.secret is not None:
        new = await stores.primary.put(binding, body.secret)
    now = datetime.now(UTC)
    replaced: VoiceCredential | None = None
    try:
        async with repo.scoped(db, scope) as tx:
            row = await repo.get_row(tx, scope, credential_id, lock=True)
            old = repo.stored(row)
            if body.active and not row.active:
                current = await repo.active_row(tx, scope, row.service, lock=True)
                if current is not None:
                    current.active, current.updated_at = False, now
                    await tx.flush()  # the index allows one active row at every statement
                    replaced = current
                row.active = True
            elif body.active is False:
                row.active = False
            if body.name is not None:
                row.name = body.name
            if body.metadata is not None:
                row.metadata_ = body.metadata
            if new is not None and body.secret is not None:
                repo.set_stored(row, new)
                row.masked, row.fingerprint = mask(body.secret), fingerprint(body.secret)
                # The old key's validation says nothing about the new one.
                row.last_validated_at = row.last_validation_ok = row.last_validation_message = None
            row.updated_at = now
            await tx.flush()
    except BaseException as e:
        if new is not None:
            await _forget(stores, binding, new)
        if isinstance(e, IntegrityError) and _is_one_active_violation(e):
            raise Conflict(
                "Another credential of this service was activated at the same moment; retry.",
                code="credential_already_active",
            ) from None
        raise
    if new is not None:
        await _forget(stores, binding, old)
    if replaced is not None:
        _audit("credential_deactivated", replaced, principal, replaced_by=str(row.id))
    _audit("credential_updated", row, principal, changed=sorted(body.model_fields_set))
    return public(row)


async def delete_credential(
    db: SessionMaker, stores: SecretStores, principal: Principal, scope: Scope, credential_id: UUID
) -> None:
    """Hard delete: a key no session may use is not worth keeping, and its secret goes too."""
    authorize(principal, scope)
    async with repo.scoped(db, scope) as tx:
        row = await repo.get_row(tx, scope, credential_id, lock=True)
        await tx.delete(row)
    await _forget(stores, repo.binding(row), repo.stored(row))
    _audit("credential_deleted", row, principal)


# --- validation ------------------------------------------------------------------------------


async def validate_credential(
    db: SessionMaker, stores: SecretStores, settings: SessionSettings, principal: Principal,
    scope: Scope, credential_id: UUID,
) -> ValidationResult:
    """Call the provider with the key; store and return what it said."""
    authorize(principal, scope)
    async with repo.scoped(db, scope) as tx:
        row = await repo.get_row(tx, scope, credential_id)
    secret = await open_secret(stores, row)
    service = CredentialService(row.service)
    # No transaction is held open while the provider answers.
    result = await providers.check_key(service, secret, settings)
    checked_at = datetime.now(UTC)
    c = VoiceCredential
    async with repo.scoped(db, scope) as tx:
        # Only if the key is still the one checked: a concurrent update resets validation.
        await tx.execute(
            update(c).where(col(c.id) == credential_id, col(c.fingerprint) == row.fingerprint)
            .values(last_validated_at=checked_at, last_validation_ok=result.ok,
                    last_validation_message=result.message)
        )
    _audit("credential_validated", row, principal, outcome=result.outcome, http_status=result.http_status)
    return ValidationResult(
        credential_id=credential_id, service=service, ok=result.ok, outcome=result.outcome,
        message=result.message, http_status=result.http_status, checked_at=checked_at,
    )


# --- resolution for services -----------------------------------------------------------------


async def resolve_for_service(
    db: SessionMaker, stores: SecretStores, settings: SessionSettings, principal: Principal,
    org_id: UUID, service: CredentialService,
) -> ResolvedCredential:
    """The key a session of the org uses (internal endpoint: service identities only)."""
    require_service(principal)
    found = await resolve_credential(db, org_id, service.value, settings, stores=stores)
    log.info("credential_resolved", credential_id=str(found.credential_id), scope=found.scope,
             org_id=str(org_id), service=found.service, fingerprint=found.fingerprint,
             by=principal.service)
    return ResolvedCredential(
        credential_id=found.credential_id, service=service, scope=found.scope,  # type: ignore[arg-type]
        secret=found.secret, fingerprint=found.fingerprint, metadata=found.metadata,
    )
