"""Transcripts as session-svc serves them: who may read a session's transcript (asked by
transcript-svc), the newest revision of each (from transcript.completed), and the list of them."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, func, select
from sqlmodel import col

from session_svc import repository as repo
from session_svc.analytics import repository as analytics
from session_svc.models import VoiceSession, VoiceShare
from session_svc.permissions import access, require_member
from session_svc.service import SessionFilters, require_session
from session_svc.settings import SCHEMA
from session_svc.transcripts import repository
from session_svc.transcripts.models import SessionTranscript
from voice_shared.api.access import ShareLevel
from voice_shared.api.common import Page
from voice_shared.api.transcripts import SessionAccess, TranscriptListItem
from voice_shared.auth import Principal
from voice_shared.contracts import SessionStatus, TranscriptCompleted, TranscriptDeleted
from voice_shared.db import SessionMaker, transaction
from voice_shared.outbox import claim_inbox


async def session_access(db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID) -> SessionAccess:
    """The caller's access to the session; 404 if they cannot see it."""
    async with transaction(db, org_id) as tx:
        session, granted = await require_session(tx, principal, org_id, session_id, "view")
    return SessionAccess(access=granted, status=SessionStatus(session.status))


async def record_revision(
    db: SessionMaker, org_id: UUID, event: TranscriptCompleted, updated_at: datetime, consumer: str, event_id: UUID
) -> None:
    async with transaction(db, org_id) as tx:
        if not await claim_inbox(tx, SCHEMA, consumer, event_id):
            return
        await repository.put_revision(tx, {
            "id": event.transcript_id, "session_id": event.session_id, "org_id": org_id,
            "revision": event.revision, "session_status": event.session_status,
            "segment_count": event.segment_count, "word_count": event.word_count,
            "candidate_word_count": event.candidate_word_count, "duration_ms": event.duration_ms,
            "created_at": event.finalised_at, "updated_at": updated_at,
        })


async def forget(db: SessionMaker, org_id: UUID, event: TranscriptDeleted, consumer: str, event_id: UUID) -> None:
    async with transaction(db, org_id) as tx:
        if await claim_inbox(tx, SCHEMA, consumer, event_id):
            await repository.forget(tx, event.session_id)
            await analytics.forget(tx, event.session_id)  # what was scored from it goes with it


@dataclass(frozen=True)
class TranscriptFilters:
    session_id: UUID | None = None
    config_id: UUID | None = None
    candidate: str | None = None
    created_from: datetime | None = None  # when the transcript was first finalised
    created_to: datetime | None = None
    has_analytics: bool | None = None


async def list_transcripts(
    db: SessionMaker, principal: Principal, org_id: UUID, filters: TranscriptFilters, limit: int, cursor: str | None,
) -> Page[TranscriptListItem]:
    """The transcripts of the sessions whose transcript the caller may read, newest first."""
    require_member(principal, org_id)
    t = SessionTranscript
    where = [
        repo.live_sessions(), repo.visible_to(principal, org_id, "view_transcript"),
        *SessionFilters(config_id=filters.config_id, candidate=filters.candidate).where(),
        *repo.created_between(t, filters.created_from, filters.created_to),
    ]
    if filters.session_id is not None:
        where.append(col(t.session_id) == filters.session_id)
    if filters.has_analytics is not None:
        scored = analytics.scored(t.session_id)
        where.append(scored if filters.has_analytics else ~scored)
    joined = (
        select(t, VoiceSession, col(VoiceShare.level))
        .join(VoiceSession, col(VoiceSession.id) == t.session_id)
        .outerjoin(VoiceShare, and_(col(VoiceShare.session_id) == VoiceSession.id,
                                    col(VoiceShare.user_id) == principal.sub))
        .where(*where)
    )
    counted = select(func.count()).select_from(t).join(VoiceSession, col(VoiceSession.id) == t.session_id)
    async with transaction(db, org_id, snapshot=True) as tx:
        rows = (await tx.execute(repo.page_after(joined, t, cursor, limit))).all()
        total = (await tx.execute(counted.where(*where))).scalar_one()
    page, next_cursor = repo.page_of(rows, limit, lambda r: (r[0].created_at, r[0].id))
    items = []
    for transcript, session, level in page:
        granted = access(principal, repo.facts(session, ShareLevel(level) if level else None))
        if granted is not None:
            items.append(TranscriptListItem.model_validate({
                **transcript.model_dump(), "config_id": session.config_id, "config_version": session.config_version,
                "interview_type": session.interview_type, "candidate_name": session.candidate_name,
                "candidate_email": session.candidate_email, "access": granted,
            }))
    return Page[TranscriptListItem](items=items, total=total, next_cursor=next_cursor)
