"""Queries of credentials, in transactions that Row Level Security scopes to an org or the platform.

Org rows are visible when the transaction sets ``app.org_id``; platform rows (``org_id`` NULL)
only when it sets ``app.platform_scope`` to ``on`` (see migration 0003).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func, select

from session_svc.credentials.ports import SecretBinding, StoredSecret
from session_svc.models import VoiceCredential
from voice_shared.db import SessionMaker, transaction
from voice_shared.errors import NotFound

PLATFORM_SETTING = "app.platform_scope"
ONE_ACTIVE_INDEX = "voice_credentials_one_active"


@dataclass(frozen=True)
class Scope:
    """An organisation's credentials, or the platform's (``org_id`` None)."""

    org_id: UUID | None

    @property
    def kind(self) -> str:
        return "org" if self.org_id else "platform"

    @property
    def label(self) -> str:
        return "this organisation" if self.org_id else "the platform"


PLATFORM = Scope(None)


async def enable_platform_rows(tx: AsyncSession) -> None:
    await tx.execute(text("select set_config(:name, 'on', true)"), {"name": PLATFORM_SETTING})


@asynccontextmanager
async def scoped(db: SessionMaker, scope: Scope, *, with_platform: bool = False) -> AsyncIterator[AsyncSession]:
    """A transaction that sees the scope's rows (and, with ``with_platform``, the platform's too)."""
    async with transaction(db, scope.org_id) as tx:
        if scope.org_id is None or with_platform:
            await enable_platform_rows(tx)
        yield tx


async def count(tx: AsyncSession, *where: Any) -> int:
    return (await tx.execute(select(func.count()).select_from(VoiceCredential).where(*where))).scalar_one()


def in_scope(scope: Scope) -> Any:
    org_id = col(VoiceCredential.org_id)
    return org_id == scope.org_id if scope.org_id else org_id.is_(None)


async def get_row(tx: AsyncSession, scope: Scope, credential_id: UUID, *, lock: bool = False) -> VoiceCredential:
    stmt = select(VoiceCredential).where(col(VoiceCredential.id) == credential_id, in_scope(scope))
    if lock:
        stmt = stmt.with_for_update()
    row = (await tx.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No such credential in {scope.label}.", code="credential_not_found")
    return row


async def active_row(
    tx: AsyncSession, scope: Scope, service: str, *, lock: bool = False
) -> VoiceCredential | None:
    c = VoiceCredential
    stmt = select(c).where(in_scope(scope), col(c.service) == service, col(c.active))
    if lock:
        stmt = stmt.with_for_update()
    return (await tx.execute(stmt)).scalar_one_or_none()


async def resolution_row(tx: AsyncSession, org_id: UUID, service: str) -> VoiceCredential | None:
    """The org's active key for the service, else the platform's (needs both scopes visible)."""
    c = VoiceCredential
    stmt = (
        select(c)
        .where(col(c.service) == service, col(c.active), (col(c.org_id) == org_id) | col(c.org_id).is_(None))
        .order_by(col(c.org_id).is_(None))  # the org's own first
        .limit(1)
    )
    return (await tx.execute(stmt)).scalar_one_or_none()


def binding(row: VoiceCredential) -> SecretBinding:
    return SecretBinding(org_id=row.org_id, credential_id=row.id)


def stored(row: VoiceCredential) -> StoredSecret:
    return StoredSecret(
        backend=row.backend, secret_ref=row.secret_ref, ciphertext=row.ciphertext, nonce=row.nonce,
        wrapped_key=row.wrapped_key, kek_id=row.kek_id,
    )


def set_stored(row: VoiceCredential, secret: StoredSecret) -> None:
    row.backend = secret.backend
    row.secret_ref = secret.secret_ref
    row.ciphertext = secret.ciphertext
    row.nonce = secret.nonce
    row.wrapped_key = secret.wrapped_key
    row.kek_id = secret.kek_id
