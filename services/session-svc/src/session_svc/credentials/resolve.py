"""Which key a session uses for a service: the org's active credential, else the platform's.

An org credential whose secret cannot be opened is an error, not a reason to fall back to the
platform's key: that would hide the fault and bill the platform for the org's sessions.
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from pydantic import SecretStr

from session_svc.credentials import repository as repo
from session_svc.credentials.bootstrap import secret_stores_for
from session_svc.credentials.ports import SecretStores, SecretUnreadable
from session_svc.models import VoiceCredential
from session_svc.settings import SessionSettings
from voice_shared.api.credentials import CredentialService
from voice_shared.db import SessionMaker
from voice_shared.errors import AppError

log = structlog.get_logger()

LABELS = {"daily": "Daily", "deepgram": "Deepgram", "cartesia": "Cartesia", "openai": "OpenAI"}


class CredentialMissing(AppError):
    """Neither the org nor the platform has an active key for a service a session needs."""

    status, code = 409, "credential_missing"


@dataclass(frozen=True)
class ResolvedSecret:
    credential_id: UUID
    service: str
    scope: str
    secret: SecretStr
    fingerprint: str
    metadata: dict[str, Any]


async def open_secret(stores: SecretStores, row: VoiceCredential) -> SecretStr:
    """The row's secret in clear; an unreadable one is logged (never its bytes) and raised."""
    try:
        return await stores.for_backend(row.backend).get(repo.binding(row), repo.stored(row))
    except SecretUnreadable as e:
        log.error("credential_secret_unreadable", credential_id=str(row.id), scope=row.scope,
                  service=row.service, backend=row.backend, kek_id=row.kek_id, reason=e.details)
        raise


async def resolve_credential(
    db: SessionMaker, org_id: UUID, service: str, settings: SessionSettings, *,
    stores: SecretStores | None = None,
) -> ResolvedSecret:
    """The active credential for ``service`` (org first, then platform), with its secret."""
    service = CredentialService(service).value
    async with repo.scoped(db, repo.Scope(org_id), with_platform=True) as tx:
        row = await repo.resolution_row(tx, org_id, service)
    if row is None:
        label = LABELS[service]
        raise CredentialMissing(
            f"No {label} key is configured: the organisation has no active {service!r} credential "
            "and neither has the platform. An org admin can add one with POST "
            f"/api/voice/credentials, or a platform admin with POST /api/voice/admin/credentials "
            f"(service {service!r}).",
            details={"service": service, "orgId": str(org_id)},
        )
    secret = await open_secret(stores or secret_stores_for(settings), row)
    return ResolvedSecret(credential_id=row.id, service=service, scope=row.scope, secret=secret,
                          fingerprint=row.fingerprint, metadata=dict(row.metadata_))


async def resolve_secret(
    db: SessionMaker, org_id: UUID, service: str, settings: SessionSettings, *,
    stores: SecretStores | None = None,
) -> str:
    """The key a session of ``org_id`` uses for ``service``, or ``CredentialMissing`` naming it."""
    resolved = await resolve_credential(db, org_id, service, settings, stores=stores)
    return resolved.secret.get_secret_value()
