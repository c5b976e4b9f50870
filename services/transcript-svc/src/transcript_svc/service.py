"""transcript-svc's use cases: store segments as they arrive, finalise the transcript when the
session ends (exactly once), merge late segments into a new revision, read it back."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from transcript_svc import record, repository
from transcript_svc.archive import Archive
from transcript_svc.models import TranscriptRow
from transcript_svc.settings import SCHEMA
from voice_shared.api.transcripts import (
    SessionSegments,
    SpeakerStats,
    StoredSegment,
    TranscriptPublic,
    TranscriptSegmentPublic,
    TranscriptSummary,
)
from voice_shared.contracts import SessionEnded, TranscriptCompleted, TranscriptSegment, envelope
from voice_shared.db import SessionMaker, transaction
from voice_shared.outbox import add_to_outbox, claim_inbox

log = structlog.get_logger()

SEGMENT_COLUMNS = {"session_id", "sequence", "speaker", "text", "start_ms", "end_ms", "question_id",
                   "follow_up_index", "kind", "final"}


async def store_segment(
    db: SessionMaker, archive: Archive, org_id: UUID, segment: TranscriptSegment, consumer: str,
    event_id: UUID, correlation_id: str | None = None,
) -> repository.Outcome | None:
    """Store one segment (inbox-deduplicated); one that changes a finalised transcript revises it.

    None for an event already handled."""
    async with transaction(db, org_id) as tx:
        if not await claim_inbox(tx, SCHEMA, consumer, event_id):
            return None
        await repository.lock_session(tx, segment.session_id)
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
        session_id=row.session_id, transcript_id=row.id, revision=row.revision,
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
        "speakers": {role: SpeakerStats.model_validate(s) for role, s in row.speakers.items()},
    })


def _public(row: TranscriptRow, segments: list[TranscriptSegmentPublic], with_text: bool) -> TranscriptPublic:
    return TranscriptPublic(**_summary(row).model_dump(), segments=segments, text=row.text if with_text else None)


async def session_segments(db: SessionMaker, org_id: UUID, session_id: UUID) -> SessionSegments:
    """The org's segments of the session in order; a session of another org has none."""
    async with transaction(db, org_id) as tx:
        rows = await repository.segments_of(tx, session_id)
    segments = [StoredSegment.model_validate(row) for row in rows]
    return SessionSegments(
        session_id=session_id, segments=segments,
        next_sequence=segments[-1].sequence + 1 if segments else 0,
    )
