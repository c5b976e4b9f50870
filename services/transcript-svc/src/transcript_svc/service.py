"""transcript-svc's use cases: store segments as they arrive, finalise the transcript when the
session ends (exactly once), merge late segments into a new revision, read it back."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID, uuid4

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from transcript_svc import record, repository
from transcript_svc.archive import Archive
from transcript_svc.downloads import DownloadLinks
from transcript_svc.models import RecordingRow, TranscriptRow
from transcript_svc.settings import SCHEMA
from voice_shared.api.access import allows
from voice_shared.api.transcripts import (
    CONTENT_TYPES,
    ROLES,
    RecordingPublic,
    SessionSegments,
    SpeakerStats,
    StoredSegment,
    TranscriptFormat,
    TranscriptPublic,
    TranscriptSegmentPublic,
    TranscriptSummary,
)
from voice_shared.contracts import (
    RecordingCompleted,
    SessionEnded,
    TranscriptCompleted,
    TranscriptDeleted,
    TranscriptSegment,
    envelope,
)
from voice_shared.db import SessionMaker, transaction
from voice_shared.errors import Forbidden, NotFound
from voice_shared.objects import ObjectMissing
from voice_shared.outbox import add_to_outbox, claim_inbox
from voice_shared.session_access import Caller, SessionAccessClient

log = structlog.get_logger()

SEGMENT_COLUMNS = {"session_id", "sequence", "speaker", "text", "start_ms", "end_ms", "question_id",
                   "follow_up_index", "kind", "final"}


async def store_segment(
    db: SessionMaker, archive: Archive, org_id: UUID, segment: TranscriptSegment, consumer: str,
    event_id: UUID, correlation_id: str | None = None,
) -> repository.Outcome | Literal["erased"] | None:
    """Store one segment (inbox-deduplicated); one that changes a finalised transcript revises it.

    None for an event already handled."""
    async with transaction(db, org_id) as tx:
        if not await claim_inbox(tx, SCHEMA, consumer, event_id):
            return None
        await repository.lock_session(tx, segment.session_id)
        if await repository.is_erased(tx, segment.session_id):
            log.info("transcript_segment_of_erased_session_dropped", sequence=segment.sequence)
            return "erased"
        outcome = await repository.put_segment(tx, {
            **segment.model_dump(include=SEGMENT_COLUMNS), "org_id": org_id, "event_id": event_id,
        })
        if outcome in ("stored", "replaced") and (row := await repository.transcript_of(tx, segment.session_id)):
            await _revise(tx, archive, row, correlation_id)
            log.info("transcript_late_segment_merged", sequence=segment.sequence, revision=row.revision)
    if outcome == "foreign":
        # Session ids are unique platform-wide: another org's segment here is a publisher's bug.
        log.warning("transcript_segment_of_another_org_ignored", sequence=segment.sequence)
    else:
        log.debug("transcript_segment_handled", outcome=outcome, sequence=segment.sequence, final=segment.final)
    return outcome


async def finalise(
    db: SessionMaker, archive: Archive, org_id: UUID, ended: SessionEnded, consumer: str, event_id: UUID,
    correlation_id: str | None = None,
) -> TranscriptRow | None:
    """Make the session's final transcript (revision 1) from the segments stored so far, archive it
    and announce it. None for an event already handled; a session finalised before stays as it is."""
    async with transaction(db, org_id) as tx:
        if not await claim_inbox(tx, SCHEMA, consumer, event_id):
            return None
        await repository.lock_session(tx, ended.session_id)
        if await repository.is_erased(tx, ended.session_id):
            log.info("transcript_of_erased_session_not_made")
            return None
        if (row := await repository.transcript_of(tx, ended.session_id)) is not None:
            log.warning("transcript_already_final", revision=row.revision)
            return row
        now = datetime.now(UTC)
        row = TranscriptRow(
            id=uuid4(), org_id=org_id, session_id=ended.session_id, revision=0,
            session_status=ended.status, end_reason=ended.reason, segment_count=0, word_count=0,
            speakers={}, duration_ms=0, text="", object_keys=archive.keys(org_id, now, ended.session_id),
            created_at=now, updated_at=now,
        )
        await _revise(tx, archive, row, correlation_id)
    log.info("transcript_finalised", segments=row.segment_count, words=row.word_count)
    return row


async def _revise(tx: AsyncSession, archive: Archive, row: TranscriptRow, correlation_id: str | None) -> None:
    """Rebuild ``row`` from the session's segments as its next revision, archive and announce it."""
    segments = [StoredSegment.model_validate(s) for s in await repository.segments_of(tx, row.session_id)]
    facts = record.facts(segments)
    row.revision += 1
    row.segment_count, row.word_count = len(facts.segments), facts.word_count
    row.speakers = {role: stats.model_dump() for role, stats in facts.speakers.items()}
    row.duration_ms, row.text = facts.duration_ms, facts.text
    row.updated_at = datetime.now(UTC)
    # Archived before the commit: if the store fails, the transaction and the message are retried;
    # if the commit fails after, the next attempt writes the same keys again.
    await archive.write(row.object_keys, _public(row, facts.segments, with_text=True))
    await repository.save_transcript(tx, row)
    completed = TranscriptCompleted(
        session_id=row.session_id, transcript_id=row.id, revision=row.revision, finalised_at=row.created_at,
        session_status=row.session_status,  # type: ignore[arg-type]  # checked by the table
        segment_count=row.segment_count, word_count=row.word_count,
        candidate_word_count=facts.speakers["candidate"].words, duration_ms=row.duration_ms,
        object_keys=row.object_keys,
    )
    await add_to_outbox(tx, SCHEMA, envelope(completed, org_id=row.org_id, session_id=row.session_id,
                                             correlation_id=correlation_id))


def _summary(row: TranscriptRow) -> TranscriptSummary:
    return TranscriptSummary.model_validate({
        **row.model_dump(exclude={"speakers"}),
        # In the roles' order, not JSONB's (which sorts keys), so every rendering is byte for byte the same.
        "speakers": {role: SpeakerStats.model_validate(row.speakers[role]) for role in ROLES.values()
                     if role in row.speakers},
    })


def _public(row: TranscriptRow, segments: list[TranscriptSegmentPublic], with_text: bool) -> TranscriptPublic:
    return TranscriptPublic(**_summary(row).model_dump(), segments=segments, text=row.text if with_text else None)


def _not_found() -> NotFound:
    return NotFound("No such transcript.", code="transcript_not_found")


async def readable_segments(
    db: SessionMaker, sessions: SessionAccessClient, caller: Caller, org_id: UUID, session_id: UUID,
    after: int | None = None,
) -> SessionSegments:
    """The session's segments so far, for a service (the bot, resuming) or a user who may read its
    transcript (a live viewer's snapshot); only those after sequence ``after`` if given."""
    if caller.principal.service is None:
        await _require_transcript_access(sessions, caller, org_id, session_id)
    return await session_segments(db, org_id, session_id, after)


async def _require_transcript_access(
    sessions: SessionAccessClient, caller: Caller, org_id: UUID, session_id: UUID
) -> None:
    granted = await sessions.of(caller.authorization, org_id, session_id, caller.correlation_id)
    if granted is None:
        raise _not_found()
    if not allows(granted, "view_transcript"):
        raise Forbidden(f"Reading a transcript needs 'view_transcript' access to its session; you have "
                        f"'{granted}'.", code="insufficient_access")


async def session_segments(
    db: SessionMaker, org_id: UUID, session_id: UUID, after: int | None = None
) -> SessionSegments:
    """The org's segments of the session in order; a session of another org has none."""
    async with transaction(db, org_id) as tx:
        rows = await repository.segments_of(tx, session_id)
    segments = [StoredSegment.model_validate(row) for row in rows if after is None or row.sequence > after]
    return SessionSegments(
        session_id=session_id, segments=segments,
        next_sequence=rows[-1].sequence + 1 if rows else 0,
    )


async def get_transcript(
    db: SessionMaker, sessions: SessionAccessClient, caller: Caller, org_id: UUID, transcript_id: UUID,
    *, with_text: bool = False,
) -> TranscriptPublic:
    """The transcript with its segments, for a caller with 'view_transcript' access to its session or more."""
    if not caller.principal.is_member(org_id):
        raise _not_found()
    async with transaction(db, org_id) as tx:
        row = await repository.transcript(tx, transcript_id)
    if row is None:
        raise _not_found()
    await _require_transcript_access(sessions, caller, org_id, row.session_id)
    async with transaction(db, org_id) as tx:
        # Read again with the segments, in one snapshot: a revision may have landed meanwhile.
        row = await repository.transcript(tx, transcript_id)
        stored = await repository.segments_of(tx, row.session_id) if row else []
    if row is None:
        raise _not_found()
    facts = record.facts([StoredSegment.model_validate(s) for s in stored])
    return _public(row, facts.segments, with_text)


async def service_transcript(
    db: SessionMaker, org_id: UUID, session_id: UUID, *, with_text: bool = False
) -> TranscriptPublic:
    """The session's transcript for a service (the caller's identity was checked by the route)."""
    async with transaction(db, org_id) as tx:
        row = await repository.transcript_of(tx, session_id)
        stored = await repository.segments_of(tx, session_id) if row else []
    if row is None:
        raise _not_found()
    return _public(row, record.facts([StoredSegment.model_validate(s) for s in stored]).segments, with_text)


async def export_transcript(
    db: SessionMaker, sessions: SessionAccessClient, caller: Caller, org_id: UUID, transcript_id: UUID,
    fmt: TranscriptFormat,
) -> tuple[bytes, str, str]:
    """The transcript as a file: its bytes, content type and file name (what the archive holds)."""
    transcript = await get_transcript(db, sessions, caller, org_id, transcript_id, with_text=True)
    return record.render(transcript, fmt), CONTENT_TYPES[fmt], f"transcript-{transcript.session_id}.{fmt}"


async def delete_transcript(
    db: SessionMaker, archive: Archive, caller: Caller, org_id: UUID, transcript_id: UUID,
) -> None:
    """Delete the transcript, its segments and every version of its archived objects (org admins)."""
    if not caller.principal.is_member(org_id):
        raise _not_found()
    if not caller.principal.is_org_admin(org_id):
        raise Forbidden("Only org admins and owners may delete transcripts.", code="admin_required")
    async with transaction(db, org_id) as tx:
        row = await repository.transcript(tx, transcript_id)
        if row is None:
            raise _not_found()
        await _remove_record(tx, archive, org_id, row.session_id, "deleted", caller.correlation_id)


@dataclass(frozen=True)
class Removed:
    """What went of one session's record."""

    transcripts: int = 0
    segments: int = 0
    object_versions: int = 0

    def __add__(self, other: "Removed") -> "Removed":
        return Removed(self.transcripts + other.transcripts, self.segments + other.segments,
                       self.object_versions + other.object_versions)


async def _remove_record(
    tx: AsyncSession, archive: Archive, org_id: UUID, session_id: UUID,
    reason: Literal["deleted", "retention", "erasure"], correlation_id: str | None,
) -> Removed:
    """Delete the session's transcript, segments and every object version; remember the session as
    erased (so nothing that arrives later brings it back) and announce it. In the caller's transaction."""
    await repository.lock_session(tx, session_id)
    row = await repository.transcript_of(tx, session_id)
    segments = await repository.delete_session_record(tx, session_id)
    recording = await repository.recording_of(tx, session_id)
    await repository.delete_recording(tx, session_id)
    await repository.mark_erased(tx, org_id, session_id, reason)
    await add_to_outbox(tx, SCHEMA, envelope(
        TranscriptDeleted(session_id=session_id, transcript_id=row.id if row else None, reason=reason),
        org_id=org_id, session_id=session_id, correlation_id=correlation_id,
    ))
    # Objects go before the commit: if the store fails, nothing is deleted and it is tried again.
    versions = await archive.erase(row.object_keys) if row else 0
    versions += await archive.erase_recording(org_id, session_id, recording.object_key if recording else None)
    log.info("transcript_record_removed", reason=reason, session_id=str(session_id), segments=segments,
             object_versions=versions)
    return Removed(transcripts=1 if row else 0, segments=segments, object_versions=versions)


async def sweep_once(db: SessionMaker, archive: Archive, default_days: int, batch: int) -> int:
    """Remove the records past their org's retention (``default_days`` where the org set none)."""
    async with transaction(db) as tx:
        due = await repository.sessions_past_retention(tx, default_days, batch)
    for org_id, session_id in due:
        async with transaction(db, org_id) as tx:
            await _remove_record(tx, archive, org_id, session_id, "retention", "retention-sweep")
    if due:
        log.info("transcripts_expired", sessions=len(due))
    return len(due)


async def set_retention(db: SessionMaker, org_id: UUID, days: int, consumer: str, event_id: UUID) -> None:
    async with transaction(db, org_id) as tx:
        if await claim_inbox(tx, SCHEMA, consumer, event_id):
            await repository.put_retention(tx, org_id, days)


async def erase_sessions(
    db: SessionMaker, archive: Archive, caller: Caller, org_id: UUID, session_ids: list[UUID],
) -> Removed:
    """A candidate's erasure: remove the record of each session (org admins or a service)."""
    if caller.principal.service is None and not caller.principal.is_org_admin(org_id):
        raise Forbidden("Only org admins and owners may erase a candidate's data.", code="admin_required")
    removed = Removed()
    async with transaction(db, org_id) as tx:
        for session_id in session_ids:
            removed += await _remove_record(tx, archive, org_id, session_id, "erasure", caller.correlation_id)
    return removed


async def store_recording(
    db: SessionMaker, archive: Archive, org_id: UUID, event: RecordingCompleted, consumer: str, event_id: UUID,
) -> None:
    """Note where the session's recording is; one of a session already removed is deleted instead."""
    async with transaction(db, org_id) as tx:
        if not await claim_inbox(tx, SCHEMA, consumer, event_id):
            return
        await repository.lock_session(tx, event.session_id)
        if await repository.is_erased(tx, event.session_id):
            await archive.erase_recording(org_id, event.session_id, event.object_key)
            log.info("recording_of_erased_session_deleted")
            return
        await repository.put_recording(tx, RecordingRow(
            session_id=event.session_id, org_id=org_id, object_key=event.object_key,
            content_type=event.content_type, channels=event.channels, duration_ms=event.duration_ms,
            created_at=datetime.now(UTC),
        ))


async def recording_link(
    db: SessionMaker, sessions: SessionAccessClient, archive: Archive, links: DownloadLinks, caller: Caller,
    org_id: UUID, transcript_id: UUID, ttl_seconds: int,
) -> RecordingPublic:
    """An expiring download link of the transcript's recording (presigned in S3, signed here otherwise)."""
    transcript = await get_transcript(db, sessions, caller, org_id, transcript_id)
    async with transaction(db, org_id) as tx:
        recording = await repository.recording_of(tx, transcript.session_id)
    if recording is None:
        raise NotFound("This interview has no recording (its config did not ask for one, or it is not "
                       "stored yet).", code="recording_not_found")
    filename = f"interview-{transcript.session_id}.ogg"
    url = await archive.store.download_url(recording.object_key, ttl_seconds, filename)
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
    if url is None:
        url, expires_at = links.url(org_id, recording.object_key, ttl_seconds)
    return RecordingPublic(url=url, expires_at=expires_at, content_type=recording.content_type,
                           channels=recording.channels, duration_ms=recording.duration_ms)


async def download(db: SessionMaker, archive: Archive, links: DownloadLinks, token: str) -> tuple[bytes, str]:
    """The file a signed link names, if its recording is still on record."""
    org_id, key = links.verify(token)
    async with transaction(db, org_id) as tx:
        known = await repository.recording_stored_at(tx, key)
    if known is None:
        raise NotFound("This recording no longer exists.", code="recording_not_found")
    try:
        return await archive.store.get(key), known.content_type
    except ObjectMissing as e:
        raise NotFound("This recording no longer exists.", code="recording_not_found") from e
