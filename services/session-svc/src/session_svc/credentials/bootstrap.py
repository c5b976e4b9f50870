"""The secret stores a deployment uses, built from its settings (never chosen by `if testing`)."""

from session_svc.credentials.aws import AwsSecretsManagerStore
from session_svc.credentials.local import Keyring, LocalEnvelopeStore
from session_svc.credentials.ports import SecretStores
from session_svc.settings import SessionSettings

_built: dict[int, tuple[SessionSettings, SecretStores]] = {}


def secret_stores(settings: SessionSettings) -> SecretStores:
    """New secrets go to ``VOICE_SECRETS_BACKEND``; local envelopes stay readable either way (the
    KEK is always configured), so switching to AWS needs no migration of existing rows."""
    local = LocalEnvelopeStore(Keyring.from_settings(settings))
    if settings.secrets_backend == "aws":
        return SecretStores(AwsSecretsManagerStore.from_settings(settings), local)
    return SecretStores(local)


def secret_stores_for(settings: SessionSettings) -> SecretStores:
    """``secret_stores``, built once per settings object (for callers without the app's state)."""
    found = _built.get(id(settings))
    if found is None or found[0] is not settings:
        found = _built[id(settings)] = (settings, secret_stores(settings))
    return found[1]
