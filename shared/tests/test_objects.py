"""Both object store adapters keep the port's promises: the local folder, and S3 on moto's server
(versioning on, SSE-KMS), the way AWS and MinIO are reached."""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from voice_shared.objects import LocalObjectStore, ObjectMissing, ObjectStore, S3ObjectStore, object_key, object_store
from voice_shared.settings import ServiceSettings


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path)
        return
    endpoint = request.getfixturevalue("moto_s3")
    bucket = request.getfixturevalue("s3_bucket")()
    yield S3ObjectStore(boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1"), bucket)


def test_keys_are_dated_per_org_and_session() -> None:
    org, sid = uuid.uuid4(), uuid.uuid4()
    day = datetime(2026, 3, 7, 23, 59, tzinfo=UTC)
    assert object_key("", "transcripts", org, day, sid, "vtt") == f"transcripts/{org}/2026/03/07/{sid}.vtt"
    assert object_key("prod/", "recordings", org, day, sid, "ogg") == f"prod/recordings/{org}/2026/03/07/{sid}.ogg"


async def test_put_get_overwrite_and_delete_every_version(store: ObjectStore) -> None:
    key = f"transcripts/{uuid.uuid4()}/2026/12/03/{uuid.uuid4()}.json"
    with pytest.raises(ObjectMissing):
        await store.get(key)
    await store.put(key, b"revision 1", "application/json")
    await store.put(key, b"revision 2", "application/json")
    assert await store.get(key) == b"revision 2"
    kept = await store.versions(key)
    assert kept == (2 if isinstance(store, S3ObjectStore) else 1)  # S3 keeps the older version

    assert await store.delete(key) == kept
    assert await store.versions(key) == 0  # no version and no delete marker left
    with pytest.raises(ObjectMissing):
        await store.get(key)
    assert await store.delete(key) == 0


async def test_delete_leaves_the_neighbours(store: ObjectStore) -> None:
    prefix = f"transcripts/{uuid.uuid4()}/"
    await store.put(prefix + "a.json", b"a", "application/json")
    await store.put(prefix + "a.json.txt", b"b", "text/plain")
    assert await store.keys(prefix) == [prefix + "a.json", prefix + "a.json.txt"]
    await store.delete(prefix + "a.json")
    assert await store.keys(prefix) == [prefix + "a.json.txt"]
    assert await store.get(prefix + "a.json.txt") == b"b"
    assert await store.versions(prefix) == 1


def test_a_local_key_cannot_leave_the_folder(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    for key in ("../outside", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ValueError, match="leaves the store"):
            store._path(key)


def test_settings_choose_the_adapter_with_kms(moto_s3: str, s3_bucket: Callable[[], str], tmp_path: Path) -> None:
    kms = boto3.client("kms", endpoint_url=moto_s3, region_name="us-east-1")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    bucket = s3_bucket()
    s3 = object_store(ServiceSettings(object_store="s3", s3_endpoint_url=moto_s3, s3_bucket=bucket,
                                      s3_kms_key_id=key_id))
    assert isinstance(s3, S3ObjectStore)
    s3._put("k.txt", b"secret transcript", "text/plain")
    head = s3.client.head_object(Bucket=bucket, Key="k.txt")
    assert head["ServerSideEncryption"] == "aws:kms" and key_id in head["SSEKMSKeyId"]
    assert head["ContentType"] == "text/plain"
    local = object_store(ServiceSettings(object_store_dir=str(tmp_path)))
    assert isinstance(local, LocalObjectStore) and local.root == tmp_path.resolve()


async def test_a_presigned_url_downloads_from_s3_and_the_folder_has_none(
    moto_s3: str, s3_bucket: Callable[[], str], tmp_path: Path
) -> None:
    import httpx

    s3 = S3ObjectStore(boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1"), s3_bucket())
    await s3.put("recordings/x.ogg", b"OggS...", "audio/ogg")
    url = await s3.download_url("recordings/x.ogg", 60, "interview.ogg")
    assert url is not None and url.startswith(moto_s3)
    async with httpx.AsyncClient() as client:
        answer = await client.get(url)
    assert answer.status_code == 200 and answer.content == b"OggS..."
    assert answer.headers["content-disposition"] == 'attachment; filename="interview.ogg"'
    assert await LocalObjectStore(tmp_path).download_url("recordings/x.ogg", 60, "x.ogg") is None
