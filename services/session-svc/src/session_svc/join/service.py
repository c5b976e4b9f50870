"""Join links for managers; join-page facts and consent for the candidate holding a join token."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from session_svc import repository as repo
from session_svc.lifecycle import TERMINAL
from session_svc.models import VoiceConfigVersion, VoiceSession
from session_svc.org.service import retention_days
from session_svc.rooms.ports import RoomProviderError
from session_svc.rooms.service import Rooms
from session_svc.settings import SessionSettings
from voice_shared.api.configs import InterviewDefinition
from voice_shared.api.join import COMPANY_NAME_KEY, ConsentCreate, ConsentPublic, JoinInfo
from voice_shared.api.pool import QueuePlace
from voice_shared.api.rooms import RoomAccess
from voice_shared.contracts import SessionStatus
from voice_shared.db import SessionMaker, transaction
from voice_shared.errors import Conflict, NotFound
from voice_shared.internal_api import PoolApi, ServiceApiError
from voice_shared.join import JoinClaims, JoinTokens

log = structlog.get_logger()

# The longest interview (240 minutes) and its wrap-up, after a Start just before the deadline.
STARTED_BEFORE_DEADLINE = timedelta(hours=4, minutes=30)


@dataclass(frozen=True)
class JoinLink:
    url: str
    expires_at: datetime


class JoinLinks:
    """The candidate's link to a session, for those who manage it."""

    def __init__(self, settings: SessionSettings) -> None:
        self._tokens = JoinTokens(settings)

    def for_session(self, session: VoiceSession) -> JoinLink | None:
        """None once the session is over. Anchored on when the session became ready (else was
        created), so every read gives the same link and starting the session renews it. Its expiry is
        the session's join deadline (a pending session without one: the configured TTL)."""
        if session.deleted_at is not None or SessionStatus(session.status) in TERMINAL:
            return None
        deadline = session.join_deadline
        # Past the deadline the token still opens an interview started before it (to rejoin after a drop).
        token, expires_at = self._tokens.mint(session.id, session.org_id, session.ready_at or session.created_at,
                                              deadline + STARTED_BEFORE_DEADLINE if deadline else None)
        return JoinLink(self._tokens.url(token), deadline or expires_at)


class QueueReader:
    """A dispatched session's place in the bot queue, as the orchestrator tells it (None if it cannot)."""

    def __init__(self, pool: PoolApi) -> None:
        self._pool = pool

    async def place(self, session: VoiceSession) -> QueuePlace | None:
        if SessionStatus(session.status) != SessionStatus.ready or session.dispatched_at is None:
            return None
        try:
            return await self._pool.queue_place(session.org_id, session.id)
        except ServiceApiError as e:  # the page goes on without the estimate
            log.warning("queue_place_unavailable", session_id=str(session.id), error=str(e))
            return None

    async def aclose(self) -> None:
        await self._pool.aclose()


async def candidate_room(rooms: Rooms | None, session: VoiceSession, transport: str) -> RoomAccess | None:
    """The Daily room and the candidate's own meeting token, once the room is provisioned.

    Local rooms need nothing here: the page signals through the gateway's webrtc/offer route.
    A provider failure leaves the page saying the room is not open yet, rather than failing it.
    """
    if transport != "daily" or rooms is None:
        return None
    try:
        return await rooms.access(session.org_id, session.id, "candidate")
    except RoomProviderError as e:
        log.warning("candidate_room_unavailable", session_id=str(session.id), error=e.message)
        return None


async def candidate_session(tx: AsyncSession, claims: JoinClaims, *, lock: bool = False) -> VoiceSession:
    stmt = select(VoiceSession).where(
        col(VoiceSession.id) == claims.sid, col(VoiceSession.org_id) == claims.org, repo.live_sessions()
    )
    if lock:
        stmt = stmt.with_for_update()
    session = (await tx.execute(stmt)).scalar_one_or_none()
    if session is None:
        raise NotFound("This interview no longer exists.", code="session_not_found")
    return session


async def join_info(
    db: SessionMaker, claims: JoinClaims, default_retention_days: int, rooms: Rooms | None = None,
    queue: QueueReader | None = None,
) -> JoinInfo:
    """What the join page shows the candidate of ``claims``' session (the org's retention, told before
    consent, included); the room only after consent; their place in the queue while they wait for a bot."""
    async with transaction(db, claims.org) as tx:
        session = await candidate_session(tx, claims)
        retention = await retention_days(tx, claims.org, default_retention_days)
        version = await tx.get(VoiceConfigVersion, (session.config_id, session.config_version))
        if version is None:
            raise NotFound("This interview's configuration no longer exists.", code="config_not_found")
        definition = InterviewDefinition.model_validate(version.definition)
    transport = definition.providers.transport
    room = await candidate_room(rooms, session, transport) if session.consent_at is not None else None
    company = session.metadata_.get(COMPANY_NAME_KEY)
    return JoinInfo(
        session_id=session.id, status=SessionStatus(session.status), status_reason=session.status_reason,
        candidate_name=session.candidate_name,
        interviewer_name=definition.bot_name,
        company_name=company.strip()[:200] or None if isinstance(company, str) else None,
        language=definition.language, max_duration_minutes=definition.max_duration_minutes,
        transport=transport, room_url=room.url if room else None,
        meeting_token=room.token if room else None, data_retention_days=retention,
        consent_at=session.consent_at, consent_text_version=session.consent_text_version,
        join_deadline=session.join_deadline, dispatched_at=session.dispatched_at,
        queue=await queue.place(session) if queue is not None else None,
    )


async def record_consent(
    db: SessionMaker, claims: JoinClaims, body: ConsentCreate, rooms: Rooms | None = None
) -> ConsentPublic:
    """Store the candidate's consent once (agreeing again returns the first record; 409 once the
    session is over); for a Daily room, hand out the room and the candidate's meeting token."""
    async with transaction(db, claims.org) as tx:
        session = await candidate_session(tx, claims, lock=True)
        if SessionStatus(session.status) in TERMINAL:
            raise Conflict("This interview has ended; there is nothing to consent to.", code="session_ended")
        if session.consent_at is None or session.consent_text_version is None:
            now = datetime.now(UTC)
            session.consent_at, session.consent_text_version = now, body.consent_text_version
            session.updated_at = now
            tx.add(session)
            log.info("candidate_consented", session_id=str(session.id),
                     consent_text_version=body.consent_text_version)
        version = await tx.get(VoiceConfigVersion, (session.config_id, session.config_version))
    transport = InterviewDefinition.model_validate(version.definition).providers.transport if version else "local"
    room = await candidate_room(rooms, session, transport)
    return ConsentPublic(
        session_id=session.id, consent_at=session.consent_at, consent_text_version=session.consent_text_version,
        room_url=room.url if room else None, meeting_token=room.token if room else None,
    )
