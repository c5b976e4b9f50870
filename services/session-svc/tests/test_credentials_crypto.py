"""Local envelope encryption, KEK settings, masking: pure logic, no I/O."""

import base64
import dataclasses
import os
import uuid
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from session_svc.credentials.local import Keyring, LocalEnvelopeStore, kek_id
from session_svc.credentials.ports import SecretBinding, SecretStores, SecretUnreadable, StoredSecret
from session_svc.credentials.service import fingerprint, mask
from session_svc.settings import DEV_KEK, SessionSettings

SECRET = SecretStr("sk-test-" + uuid.uuid4().hex)


def new_key() -> bytes:
    return os.urandom(32)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.fixture
def binding() -> SecretBinding:
    return SecretBinding(org_id=uuid.uuid4(), credential_id=uuid.uuid4())


@pytest.fixture
def store() -> LocalEnvelopeStore:
    return LocalEnvelopeStore(Keyring(new_key()))


def flip(data: bytes | None, at: int = 0) -> bytes:
    assert data
    raw = bytearray(data)
    raw[at] ^= 0x01
    return bytes(raw)


def test_round_trip_with_a_fresh_data_key_per_secret(store: LocalEnvelopeStore, binding: SecretBinding) -> None:
    one, two = store.seal(binding, SECRET), store.seal(binding, SECRET)

    assert store.open(binding, one).get_secret_value() == SECRET.get_secret_value()
    assert store.open(binding, two).get_secret_value() == SECRET.get_secret_value()
    assert one.kek_id == store.keyring.primary_id and one.backend == "local"
    assert one.ciphertext != two.ciphertext and one.nonce != two.nonce and one.wrapped_key != two.wrapped_key
    assert SECRET.get_secret_value().encode() not in (one.ciphertext or b"") + (one.wrapped_key or b"")


def test_platform_secrets_round_trip(store: LocalEnvelopeStore) -> None:
    platform = SecretBinding(org_id=None, credential_id=uuid.uuid4())
    assert store.open(platform, store.seal(platform, SECRET)) == SECRET


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrapped_key"])
@pytest.mark.parametrize("at", [0, -1])
def test_any_altered_byte_fails_loudly(
    store: LocalEnvelopeStore, binding: SecretBinding, field: str, at: int
) -> None:
    sealed = store.seal(binding, SECRET)
    changes: dict[str, Any] = {field: flip(getattr(sealed, field), at)}  # the field is a test parameter
    tampered = dataclasses.replace(sealed, **changes)

    with pytest.raises(SecretUnreadable) as caught:
        store.open(binding, tampered)
    assert caught.value.details == {"reason": "authentication_failed"}
    assert SECRET.get_secret_value() not in str(caught.value)


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrapped_key"])
def test_truncated_or_missing_parts_fail_loudly(store: LocalEnvelopeStore, binding: SecretBinding, field: str) -> None:
    sealed = store.seal(binding, SECRET)
    for broken in (b"", (getattr(sealed, field) or b"")[:5], None):
        with pytest.raises(SecretUnreadable):
            changes: dict[str, Any] = {field: broken}  # the field is a test parameter
            store.open(binding, dataclasses.replace(sealed, **changes))


def test_a_wrong_key_fails_loudly(store: LocalEnvelopeStore, binding: SecretBinding) -> None:
    sealed = store.seal(binding, SECRET)
    other = LocalEnvelopeStore(Keyring(new_key()))

    with pytest.raises(SecretUnreadable) as unknown:  # the row names a KEK this keyring lacks
        other.open(binding, sealed)
    assert unknown.value.details["reason"] == "unknown_kek"
    # A keyring that claims the row's KEK id but holds another key: authentication fails.
    impostor = LocalEnvelopeStore(Keyring(new_key()))
    impostor.keyring._keys = {sealed.kek_id or "": new_key()}
    with pytest.raises(SecretUnreadable) as wrong:
        impostor.open(binding, sealed)
    assert wrong.value.details == {"reason": "authentication_failed"}


@pytest.mark.parametrize("other", ["org", "credential", "platform"])
def test_the_envelope_is_bound_to_its_org_and_credential(
    store: LocalEnvelopeStore, binding: SecretBinding, other: str
) -> None:
    sealed = store.seal(binding, SECRET)
    elsewhere = {
        "org": SecretBinding(uuid.uuid4(), binding.credential_id),
        "credential": SecretBinding(binding.org_id, uuid.uuid4()),
        "platform": SecretBinding(None, binding.credential_id),
    }[other]

    with pytest.raises(SecretUnreadable):
        store.open(elsewhere, sealed)


def test_a_wrapped_key_moved_to_another_row_does_not_open_it(store: LocalEnvelopeStore) -> None:
    a, b = (SecretBinding(uuid.uuid4(), uuid.uuid4()) for _ in range(2))
    sealed_a, sealed_b = store.seal(a, SECRET), store.seal(b, SecretStr("another-secret-value"))

    with pytest.raises(SecretUnreadable):
        store.open(b, dataclasses.replace(sealed_b, wrapped_key=sealed_a.wrapped_key))


def test_rewrap_moves_the_data_key_to_the_new_kek_and_keeps_the_ciphertext(binding: SecretBinding) -> None:
    old, new = new_key(), new_key()
    sealed = LocalEnvelopeStore(Keyring(old)).seal(binding, SECRET)
    rotating = LocalEnvelopeStore(Keyring(new, old))

    rewrapped = rotating.rewrap(binding, sealed.wrapped_key or b"", sealed.kek_id)
    moved = dataclasses.replace(sealed, wrapped_key=rewrapped, kek_id=kek_id(new))

    assert rotating.open(binding, sealed) == SECRET  # old rows open during the rotation
    assert rotating.open(binding, moved) == SECRET
    assert LocalEnvelopeStore(Keyring(new)).open(binding, moved) == SECRET  # old key no longer needed
    with pytest.raises(SecretUnreadable):
        LocalEnvelopeStore(Keyring(old)).open(binding, moved)


def test_kek_ids_are_short_stable_and_distinct() -> None:
    key = new_key()
    assert kek_id(key) == kek_id(key) and len(kek_id(key)) == 16
    assert kek_id(key) != kek_id(new_key())
    assert b64(key) not in repr(Keyring(key))


def test_settings_accept_base64_keys_and_name_the_variable_not_the_value() -> None:
    new, old = new_key(), new_key()
    settings = SessionSettings(kek=SecretStr(b64(new)), previous_keks=SecretStr(f" {b64(old)} ,"))
    assert Keyring.from_settings(settings).ids == [kek_id(old), kek_id(new)]

    bad = "not-a-key-" + uuid.uuid4().hex
    for fields in ({"kek": bad}, {"previous_keks": bad}, {"kek": b64(os.urandom(16))}):
        with pytest.raises(ValidationError) as caught:
            SessionSettings(**fields)  # type: ignore[arg-type]
        assert "VOICE_KEK" in str(caught.value) or "VOICE_PREVIOUS_KEKS" in str(caught.value)
        assert bad not in str(caught.value) and "input_value" not in str(caught.value)


def test_the_development_kek_is_refused_in_production() -> None:
    production = {"environment": "production", "jwt_secret": "a-production-secret-of-32-bytes-or-more",
                  "service_token": "a-service-token-from-the-identity-provider"}
    if "join_token_secret" in SessionSettings.model_fields:
        production["join_token_secret"] = "a-join-token-secret-of-its-own-32-bytes"
    with pytest.raises(ValidationError, match="VOICE_KEK must be set in production"):
        SessionSettings(**production)  # type: ignore[arg-type]
    assert SessionSettings(**production, kek=b64(new_key()))  # type: ignore[arg-type]
    assert SessionSettings(**production, secrets_backend="aws")  # type: ignore[arg-type]
    assert SessionSettings().kek.get_secret_value() == DEV_KEK


def test_mask_shows_only_a_short_tail_and_the_fingerprint_is_a_sha256_prefix() -> None:
    assert mask(SecretStr("sk-live-0123456789abcdef")) == "****cdef"
    assert mask(SecretStr("0123456789ab")) == "****ab"
    assert mask(SecretStr("short")) == "****"
    fp = fingerprint(SecretStr("sk-live-0123456789abcdef"))
    assert fp == "sha256:" + __import__("hashlib").sha256(b"sk-live-0123456789abcdef").hexdigest()[:16]


def test_reprs_never_show_secret_material(store: LocalEnvelopeStore, binding: SecretBinding) -> None:
    sealed = store.seal(binding, SECRET)
    assert SECRET.get_secret_value() not in repr(SECRET)
    assert repr(sealed.ciphertext) not in repr(sealed) and "kek_id" in repr(sealed)


def test_a_row_of_an_unconfigured_backend_is_unreadable(store: LocalEnvelopeStore) -> None:
    with pytest.raises(SecretUnreadable, match="VOICE_SECRETS_BACKEND"):
        SecretStores(store).for_backend("aws")
    assert isinstance(StoredSecret(backend="aws"), StoredSecret)
