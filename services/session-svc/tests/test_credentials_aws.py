"""The AWS Secrets Manager adapter against moto (and, through the service, against real Postgres)."""

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from pydantic import SecretStr

from session_svc.credentials import service
from session_svc.credentials.aws import AwsSecretsManagerStore
from session_svc.credentials.local import Keyring, LocalEnvelopeStore
from session_svc.credentials.ports import SecretBinding, SecretStores, SecretStoreUnavailable, SecretUnreadable
from session_svc.credentials.repository import Scope
from session_svc.credentials.resolve import resolve_credential
from session_svc.settings import SessionSettings
from voice_shared.api.credentials import CredentialCreate, CredentialUpdate
from voice_shared.auth import Principal, Role
from voice_shared.db import make_engine, make_sessionmaker

REGION = "eu-west-1"


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def binding() -> SecretBinding:
    return SecretBinding(org_id=uuid.uuid4(), credential_id=uuid.uuid4())


def secret() -> SecretStr:
    return SecretStr("dg-" + uuid.uuid4().hex)


async def test_round_trip_names_the_secret_after_its_credential(aws: Any, binding: SecretBinding) -> None:
    store = AwsSecretsManagerStore(aws, prefix="voice/test")
    value = secret()

    stored = await store.put(binding, value)

    assert stored.backend == "aws" and stored.ciphertext is None and stored.secret_ref
    assert (await store.get(binding, stored)) == value
    described = aws.describe_secret(SecretId=stored.secret_ref)
    assert described["Name"].startswith(f"voice/test/{binding.org_id}/{binding.credential_id}/")
    assert {"Key": "voice:credential", "Value": str(binding.credential_id)} in described["Tags"]


async def test_a_kms_key_encrypts_the_secret_when_configured(aws: Any, binding: SecretBinding) -> None:
    key_id = boto3.client("kms", region_name=REGION).create_key(Description="voice test")["KeyMetadata"]["KeyId"]
    store = AwsSecretsManagerStore(aws, kms_key_id=key_id)

    stored = await store.put(binding, secret())

    assert aws.describe_secret(SecretId=stored.secret_ref)["KmsKeyId"] == key_id
    assert stored.kek_id == key_id


async def test_a_reference_to_another_credentials_secret_is_refused(aws: Any, binding: SecretBinding) -> None:
    store = AwsSecretsManagerStore(aws)
    stored = await store.put(binding, secret())

    for other in (SecretBinding(uuid.uuid4(), binding.credential_id),
                  SecretBinding(binding.org_id, uuid.uuid4()), SecretBinding(None, binding.credential_id)):
        with pytest.raises(SecretUnreadable) as caught:
            await store.get(other, stored)
        assert caught.value.details == {"reason": "binding_mismatch"}


async def test_a_deleted_or_unknown_secret_is_unreadable(aws: Any, binding: SecretBinding) -> None:
    store = AwsSecretsManagerStore(aws)
    stored = await store.put(binding, secret())

    await store.delete(binding, stored)

    assert aws.describe_secret(SecretId=stored.secret_ref)["DeletedDate"]
    with pytest.raises(SecretUnreadable):
        await store.get(binding, stored)
    with pytest.raises(SecretUnreadable):
        await store.get(binding, stored.__class__(backend="aws", secret_ref="voice/credentials/none"))


async def test_an_unreachable_endpoint_is_unavailable_not_unreadable(binding: SecretBinding) -> None:
    client = boto3.client(
        "secretsmanager", region_name=REGION, endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    store = AwsSecretsManagerStore(client)
    with pytest.raises(SecretStoreUnavailable):
        await store.put(binding, secret())


def test_from_settings_uses_the_region_endpoint_and_kms_key() -> None:
    settings = SessionSettings(secrets_backend="aws", aws_region=REGION, aws_endpoint_url="http://127.0.0.1:4566",
                               aws_kms_key_id="alias/voice", aws_secret_prefix="/custom/")
    store = AwsSecretsManagerStore.from_settings(settings)
    assert store._client.meta.region_name == REGION
    assert store._client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert store._kms_key_id == "alias/voice" and store._prefix == "custom"


async def test_credentials_kept_in_secrets_manager_through_the_service(platform_env, aws: Any) -> None:  # type: ignore[no-untyped-def]
    """Create, resolve, replace and delete with the AWS store as primary, rows in real Postgres."""
    engine = make_engine(platform_env["database_url"], 2)
    db = make_sessionmaker(engine)
    settings = SessionSettings(**platform_env)
    stores = SecretStores(AwsSecretsManagerStore(aws), LocalEnvelopeStore(Keyring.from_settings(settings)))
    org = uuid.uuid4()
    admin = Principal(sub="aws-admin", orgs={org: Role.org_admin})
    first, second = secret(), secret()
    try:
        created = await service.create_credential(
            db, stores, admin, Scope(org),
            CredentialCreate(service="deepgram", name="in AWS", secret=first),  # type: ignore[arg-type]
        )
        assert created.backend == "aws" and created.fingerprint == service.fingerprint(first)
        resolved = await resolve_credential(db, org, "deepgram", settings, stores=stores)
        assert resolved.secret == first and resolved.scope == "org"
        names = [s["Name"] for s in aws.list_secrets()["SecretList"]]
        assert any(str(created.id) in n for n in names)

        await service.update_credential(db, stores, admin, Scope(org), created.id,
                                        CredentialUpdate(secret=second))
        assert (await resolve_credential(db, org, "deepgram", settings, stores=stores)).secret == second
        listed = aws.list_secrets(IncludePlannedDeletion=True)["SecretList"]
        mine = [s for s in listed if str(created.id) in s["Name"]]
        assert len(mine) == 2 and sum("DeletedDate" in s for s in mine) == 1  # the old one is scheduled

        await service.delete_credential(db, stores, admin, Scope(org), created.id)
        listed = aws.list_secrets(IncludePlannedDeletion=True)["SecretList"]
        assert all("DeletedDate" in s for s in listed if str(created.id) in s["Name"])
    finally:
        await engine.dispose()
