"""The secret-store port: where a credential's secret lives, bound to the credential it belongs to.

Adapters: ``local`` (AES-GCM envelope encryption in Postgres, ``local.py``) and ``aws`` (Secrets
Manager, optionally under a KMS key, ``aws.py``). Secrets travel as ``SecretStr`` so that a repr
in a log line or a traceback shows asterisks.
"""

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from pydantic import SecretStr

from voice_shared.errors import AppError, ServiceUnavailable


@dataclass(frozen=True)
class SecretBinding:
    """Whose secret this is: a stored secret opens only for the same org (or platform) and id."""

    org_id: UUID | None
    credential_id: UUID

    @property
    def scope_label(self) -> str:
        return str(self.org_id) if self.org_id else "platform"

    def aad(self) -> bytes:
        """Associated data of the local envelope: moving a ciphertext to another row breaks it."""
        return f"voice-credential:v1:{self.scope_label}:{self.credential_id}".encode()


@dataclass(frozen=True)
class StoredSecret:
    """What the credential row keeps of its secret (which columns are set depends on the backend)."""

    backend: str
    secret_ref: str | None = None
    ciphertext: bytes | None = None
    nonce: bytes | None = None
    wrapped_key: bytes | None = None
    kek_id: str | None = None

    def __repr__(self) -> str:
        return f"StoredSecret(backend={self.backend!r}, secret_ref={self.secret_ref!r}, kek_id={self.kek_id!r})"


class SecretUnreadable(AppError):
    """A stored secret that cannot be opened: tampered, bound to another credential, encrypted
    under a key that is not configured, or gone from the store. Never answered with garbage."""

    status, code = 500, "secret_unreadable"


class SecretStoreUnavailable(ServiceUnavailable):
    code = "secret_store_unavailable"


class SecretStore(Protocol):
    """Keeps secrets; every call names the credential the secret is bound to."""

    backend: str

    async def put(self, binding: SecretBinding, secret: SecretStr) -> StoredSecret:
        """Store a new secret (a fresh envelope or a fresh remote secret); nothing is overwritten."""
        ...

    async def get(self, binding: SecretBinding, stored: StoredSecret) -> SecretStr:
        """The secret in clear, or ``SecretUnreadable``."""
        ...

    async def delete(self, binding: SecretBinding, stored: StoredSecret) -> None:
        """Forget a secret that no row refers to any more."""
        ...


class SecretStores:
    """The store new secrets go to, and every store that existing rows may name."""

    def __init__(self, primary: SecretStore, *others: SecretStore) -> None:
        self.primary = primary
        self._by_backend = {s.backend: s for s in (*others, primary)}

    def for_backend(self, backend: str) -> SecretStore:
        try:
            return self._by_backend[backend]
        except KeyError:
            raise SecretUnreadable(
                f"The secret is kept by the {backend!r} secrets backend, which this deployment does "
                "not configure (VOICE_SECRETS_BACKEND).", details={"backend": backend},
            ) from None
