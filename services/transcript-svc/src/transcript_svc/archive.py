"""Where a transcript's renderings are kept: the object store, one object per format."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from transcript_svc.record import render
from voice_shared.api.transcripts import CONTENT_TYPES, FORMATS, TranscriptPublic
from voice_shared.objects import ObjectStore, object_key, recording_parts_prefix


@dataclass(frozen=True)
class Archive:
    store: ObjectStore
    prefix: str = ""

    def keys(self, org_id: UUID, day: datetime, session_id: UUID) -> dict[str, str]:
        """The keys of every format, dated by the transcript's first finalisation (stable across revisions)."""
        return {fmt: object_key(self.prefix, "transcripts", org_id, day, session_id, fmt) for fmt in FORMATS}

    async def write(self, keys: dict[str, str], transcript: TranscriptPublic) -> None:
        """Store every rendering; over an earlier revision's objects (a new version in S3)."""
        for fmt in FORMATS:
            await self.store.put(keys[fmt], render(transcript, fmt), CONTENT_TYPES[fmt])

    async def erase(self, keys: dict[str, str]) -> int:
        """Delete every version of every object; returns how many versions went."""
        return sum([await self.store.delete(key) for key in keys.values()])

    async def erase_recording(self, org_id: UUID, session_id: UUID, key: str | None) -> int:
        """Delete the recording (every version) and any part a bot left before joining them."""
        parts = await self.store.keys(recording_parts_prefix(self.prefix, org_id, session_id))
        return sum([await self.store.delete(k) for k in [*([key] if key else []), *parts]])
