"""Local envelope encryption: each secret under its own data key, each data key under the KEK.

A secret is encrypted with AES-256-GCM under a fresh random data key; the credential's org (or
"platform") and id are its associated data, so a ciphertext copied to another row does not open.
The data key is itself encrypted (AES-256-GCM, same binding) under a key-encryption key from the
environment, and the row records that KEK's id. Rotating the KEK re-wraps only the data keys
(``rewrap``); rows keep opening during a rotation because the old key is still in the keyring.
"""

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from session_svc.credentials.ports import SecretBinding, SecretUnreadable, StoredSecret
from session_svc.settings import SessionSettings, decode_kek

BACKEND = "local"
NONCE_BYTES = 12
WRAP_CONTEXT = b"voice-data-key:v1:"


def kek_id(key: bytes) -> str:
    """A short public name for a KEK (a hash, so it reveals nothing usable about the key)."""
    return hashlib.sha256(b"voice-kek-id:" + key).hexdigest()[:16]


class Keyring:
    """The KEK that wraps new data keys, and every KEK that may still unwrap old ones."""

    def __init__(self, primary: bytes, *others: bytes) -> None:
        self.primary_id = kek_id(primary)
        self._keys = {kek_id(k): k for k in (*others, primary)}

    @classmethod
    def from_settings(cls, settings: SessionSettings) -> "Keyring":
        return cls(
            decode_kek(settings.kek.get_secret_value(), "VOICE_KEK"),
            *(decode_kek(k, "VOICE_PREVIOUS_KEKS") for k in settings.previous_kek_texts()),
        )

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    def key(self, id_: str | None) -> bytes:
        key = self._keys.get(id_ or "")
        if key is None:
            raise SecretUnreadable(
                f"The secret's data key is wrapped by KEK {id_!r}, which is neither VOICE_KEK nor in "
                "VOICE_PREVIOUS_KEKS; configure that key to read it.",
                details={"reason": "unknown_kek", "kekId": id_},
            )
        return key

    def __repr__(self) -> str:
        return f"Keyring(primary={self.primary_id!r}, ids={self.ids!r})"


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, what: str) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError):
        # Deliberately no chaining: the failure says all there is, and carries no key material.
        raise SecretUnreadable(
            f"The credential's {what} failed authentication: the stored bytes were altered, belong "
            "to another credential, or were encrypted under another key. Re-enter the secret.",
            details={"reason": "authentication_failed"},
        ) from None


class LocalEnvelopeStore:
    """The embedded secret store: envelopes in the credential row itself."""

    backend = BACKEND

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def seal(self, binding: SecretBinding, secret: SecretStr) -> StoredSecret:
        aad = binding.aad()
        data_key = AESGCM.generate_key(bit_length=256)
        nonce, ciphertext = _seal(data_key, secret.get_secret_value().encode(), aad)
        return StoredSecret(
            backend=BACKEND, ciphertext=ciphertext, nonce=nonce,
            wrapped_key=self._wrap(data_key, aad), kek_id=self.keyring.primary_id,
        )

    def open(self, binding: SecretBinding, stored: StoredSecret) -> SecretStr:
        if stored.ciphertext is None or stored.nonce is None or stored.wrapped_key is None:
            raise SecretUnreadable("The credential has no local envelope.", details={"reason": "missing"})
        aad = binding.aad()
        data_key = self._unwrap(stored.wrapped_key, stored.kek_id, aad)
        return SecretStr(_open(data_key, stored.nonce, stored.ciphertext, aad, "secret").decode())

    def rewrap(self, binding: SecretBinding, wrapped_key: bytes, from_kek_id: str | None) -> bytes:
        """The same data key wrapped under the primary KEK (the ciphertext stays as it is)."""
        aad = binding.aad()
        return self._wrap(self._unwrap(wrapped_key, from_kek_id, aad), aad)

    def _wrap(self, data_key: bytes, aad: bytes) -> bytes:
        nonce, wrapped = _seal(self.keyring.key(self.keyring.primary_id), data_key, WRAP_CONTEXT + aad)
        return nonce + wrapped

    def _unwrap(self, wrapped_key: bytes, id_: str | None, aad: bytes) -> bytes:
        kek = self.keyring.key(id_)
        nonce, wrapped = wrapped_key[:NONCE_BYTES], wrapped_key[NONCE_BYTES:]
        return _open(kek, nonce, wrapped, WRAP_CONTEXT + aad, "data key")

    async def put(self, binding: SecretBinding, secret: SecretStr) -> StoredSecret:
        return self.seal(binding, secret)

    async def get(self, binding: SecretBinding, stored: StoredSecret) -> SecretStr:
        return self.open(binding, stored)

    async def delete(self, binding: SecretBinding, stored: StoredSecret) -> None:
        """Nothing to do: the envelope goes with its row."""
