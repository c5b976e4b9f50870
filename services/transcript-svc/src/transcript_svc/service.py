"""transcript-svc's use cases: store segments as they arrive, give a session's transcript so far."""

from uuid import UUID

import structlog

from transcript_svc import repository
from transcript_svc.settings import SCHEMA
from voice_shared.api.transcripts import SessionSegments, StoredSegment
from voice_shared.contracts import TranscriptSegment
from voice_shared.db import SessionMaker, transaction
from voice_shared.outbox import claim_inbox

log = structlog.get_logger()

SEGMENT_COLUMNS = {"session_id", "sequence", "speaker", "text", "start_ms", "end_ms", "question_id",
                   "follow_up_index", "kind", "final"}


async def store_segment(
    db: SessionMaker, org_id: UUID, segment: TranscriptSegment, consumer: str, event_id: UUID
) -> repository.Outcome | None:
    """Store one segment (inbox-deduplicated); None for an event already handled."""
    async with transaction(db, org_id) as tx:
        if not await claim_inbox(tx, SCHEMA, consumer, event_id):
            return None
        outcome = await repository.put_segment(tx, {
            **segment.model_dump(include=SEGMENT_COLUMNS), "org_id": org_id, "event_id": event_id,
        })
    if outcome == "foreign":
        # Session ids are unique platform-wide: another org's segment here is a publisher's bug.
        log.warning("transcript_segment_of_another_org_ignored", sequence=segment.sequence)
    else:
        log.debug("transcript_segment_handled", outcome=outcome, sequence=segment.sequence, final=segment.final)
    return outcome


async def session_segments(db: SessionMaker, org_id: UUID, session_id: UUID) -> SessionSegments:
    """The org's segments of the session in order; a session of another org has none."""
    async with transaction(db, org_id) as tx:
        rows = await repository.segments_of(tx, session_id)
    segments = [StoredSegment.model_validate(row) for row in rows]
    return SessionSegments(
        session_id=session_id, segments=segments,
        next_sequence=segments[-1].sequence + 1 if segments else 0,
    )
