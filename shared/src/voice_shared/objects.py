"""The object store port: archived transcripts and recordings, in S3 (boto3) or a local directory.

Both adapters are real and chosen by settings (``object_store``): ``local`` (the default, a folder)
and ``s3`` (any S3 endpoint: AWS, MinIO; moto's server in the tests). Keys are the same in both:
``<prefix><kind>/<org>/<yyyy>/<mm>/<dd>/<session>.<ext>``.
"""

import asyncio
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from voice_shared.settings import ServiceSettings


class ObjectMissing(Exception):
    """No object under that key."""


class ObjectStore(Protocol):
    """Where finished artefacts live. A put over a key makes a new version (S3 with versioning keeps
    the old one); ``delete`` removes every version, so an erased object leaves nothing behind."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes:
        """The newest version; ``ObjectMissing`` if there is none."""
        ...

    async def delete(self, key: str) -> int:
        """Remove every version of the object; returns how many versions (and delete markers) went."""
        ...

    async def versions(self, prefix: str) -> int:
        """How many versions (delete markers included) exist under ``prefix``: 0 after an erasure."""
        ...

    async def keys(self, prefix: str) -> list[str]:
        """The keys of the objects under ``prefix`` (their newest versions), sorted."""
        ...

    async def download_url(self, key: str, expires_seconds: int, filename: str) -> str | None:
        """A URL that downloads the object without other credentials until it expires (S3: presigned);
        None where the store has none (the local folder: the platform signs a route of its own)."""
        ...


def object_key(prefix: str, kind: str, org_id: UUID, day: datetime, session_id: UUID, ext: str) -> str:
    """``transcripts/{org}/{yyyy}/{mm}/{dd}/{session}.{ext}``, under the store's prefix."""
    return f"{prefix}{kind}/{org_id}/{day:%Y/%m/%d}/{session_id}.{ext}"


def recording_parts_prefix(prefix: str, org_id: UUID, session_id: UUID) -> str:
    """Where the bot uploads a recording's parts while the interview goes on (deleted once joined)."""
    return f"{prefix}recordings/{org_id}/parts/{session_id}/"


class LocalObjectStore:
    """A directory: one file per key, written atomically (temp file, then rename). One version."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"object key {key!r} leaves the store")
        return path

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as e:
            raise ObjectMissing(key) from e

    def _delete(self, key: str) -> int:
        path = self._path(key)
        if not path.exists():
            return 0
        path.unlink()
        return 1

    def _keys(self, prefix: str) -> list[str]:
        found = (str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())
        return sorted(k for k in found if k.startswith(prefix) and not k.rsplit("/", 1)[-1].startswith(".part-"))

    def _versions(self, prefix: str) -> int:
        return len(self._keys(prefix))

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put, key, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    async def delete(self, key: str) -> int:
        return await asyncio.to_thread(self._delete, key)

    async def versions(self, prefix: str) -> int:
        return await asyncio.to_thread(self._versions, prefix)

    async def keys(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._keys, prefix)

    async def download_url(self, key: str, expires_seconds: int, filename: str) -> str | None:
        return None


class S3ObjectStore:
    """A bucket through boto3 (blocking, so every call runs in a thread). With ``kms_key_id`` every
    object is written with SSE-KMS under that key."""

    def __init__(self, client: Any, bucket: str, kms_key_id: str | None = None) -> None:
        self.client, self.bucket, self.kms_key_id = client, bucket, kms_key_id

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **extra)

    def _get(self, key: str) -> bytes:
        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except self.client.exceptions.NoSuchKey as e:
            raise ObjectMissing(key) from e

    def _all_versions(self, prefix: str) -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                found.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
        return found

    def _delete(self, key: str) -> int:
        doomed = [v for v in self._all_versions(key) if v["Key"] == key]
        for start in range(0, len(doomed), 1000):  # the API's batch limit
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": doomed[start:start + 1000],
                                                                   "Quiet": True})
        return len(doomed)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put, key, data, content_type)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    async def delete(self, key: str) -> int:
        return await asyncio.to_thread(self._delete, key)

    async def versions(self, prefix: str) -> int:
        return len(await asyncio.to_thread(self._all_versions, prefix))

    def _keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(entry["Key"] for page in pages for entry in page.get("Contents", []))

    async def keys(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._keys, prefix)

    async def download_url(self, key: str, expires_seconds: int, filename: str) -> str | None:
        params = {"Bucket": self.bucket, "Key": key,
                  "ResponseContentDisposition": f'attachment; filename="{filename}"'}
        return str(await asyncio.to_thread(self.client.generate_presigned_url, "get_object", Params=params,
                                           ExpiresIn=expires_seconds))


def object_store(settings: ServiceSettings) -> ObjectStore:
    """The adapter the settings name."""
    if settings.object_store == "local":
        return LocalObjectStore(settings.object_store_dir)
    import boto3  # only the S3 adapter needs it loaded

    client = boto3.client(
        "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
    )
    return S3ObjectStore(client, settings.s3_bucket, settings.s3_kms_key_id)
