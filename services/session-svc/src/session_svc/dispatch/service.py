"""Invite, then the candidate starts.

A started (invited) session is ``ready``: its room is provisioned and its link works until the join
deadline, and no bot is held. The candidate opens the link when they are ready, consents and presses
Start: that writes ``session.dispatched`` (the bot job) through the outbox, and a warm bot takes it.
A manager may dispatch too (an interview run live). Admission: an org runs at most its limit of
interviews at once (dispatched or active); a Start beyond it is refused with the limit in words.
A bot that waited in vain for the candidate lets the session go (``bot.released``): it is ready
again for another Start. Past the deadline a session that was never dispatched ends failed with
reason ``link_expired`` (its room is then deleted like any ended session's).
"""

import asyncio
from datetime import UTC, datetime
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from session_svc import repository as repo
from session_svc.join.service import JoinLinks, QueueReader, candidate_session, join_info
from session_svc.models import VoiceSession
from session_svc.org.service import concurrency_limit
from session_svc.rooms.service import Rooms
from session_svc.service import apply_transition, public, require_session_scores
from session_svc.settings import SCHEMA, SessionSettings
from voice_shared.api.join import JoinInfo
from voice_shared.api.sessions import SessionPublic
from voice_shared.auth import Principal
from voice_shared.contracts import Envelope, SessionDispatched, SessionStatus, envelope
from voice_shared.db import SessionMaker, transaction
from voice_shared.errors import Conflict, Gone, TooManyRequests
from voice_shared.join import JoinClaims
from voice_shared.outbox import add_to_outbox, claim_inbox
from voice_shared.periodic import every

log = structlog.get_logger()

S = SessionStatus


def link_expired(deadline: datetime | None) -> Gone:
    when = f" on {deadline:%d %B %Y at %H:%M} UTC" if deadline else ""
    return Gone(f"This interview link expired{when}. Ask the person who invited you for a new one.",
                code="link_expired", details={"joinDeadline": deadline.isoformat() if deadline else None})


async def _dispatch(
    tx: AsyncSession, session: VoiceSession, by: str, correlation_id: str | None, settings: SessionSettings,
) -> list[Envelope] | None:
    """The events that send the session's bot job; [] if it is on its way already; None if the link expired
    (then the session is ended in this transaction)."""
    status = S(session.status)
    if status == S.active or (status == S.ready and session.dispatched_at is not None):
        return []
    if status == S.pending:
        raise Conflict("This interview has not been opened yet: it must be started (the candidate invited) first.",
                       code="session_not_started", details={"status": status})
    if status.terminal:
        raise Conflict(f"This interview has ended ({status}).", code="session_ended", details={"status": status})
    now = datetime.now(UTC)
    if session.join_deadline is not None and now >= session.join_deadline:
        events = apply_transition(session, S.failed, "link_expired", by, correlation_id)
        tx.add(session)
        await tx.flush()
        await add_to_outbox(tx, SCHEMA, *events)
        return None
    limit = await concurrency_limit(tx, session.org_id, settings.max_concurrent_interviews)
    running = await repo.running_interviews(tx, session.org_id)
    if running >= limit:
        raise TooManyRequests(
            f"The organisation runs at most {limit} interview{'s' if limit != 1 else ''} at once and "
            f"{running} {'are' if running != 1 else 'is'} running now; start again when one has ended.",
            code="concurrency_limit", details={"limit": limit, "running": running, "retryable": True},
        )
    definition = await repo.session_definition(tx, session)
    session.dispatched_at, session.updated_at = now, now
    session.dispatch_count += 1
    tx.add(session)
    await tx.flush()
    log.info("session_dispatched", session_id=str(session.id), by=by, attempt=session.dispatch_count)
    return [envelope(
        SessionDispatched(session_id=session.id, config_id=session.config_id, config_version=session.config_version,
                          transport=definition.providers.transport, dispatched_by=by,
                          attempt=session.dispatch_count),
        org_id=session.org_id, session_id=session.id, correlation_id=correlation_id,
    )]


async def dispatch_locked(
    tx: AsyncSession, session: VoiceSession, by: str, correlation_id: str | None, settings: SessionSettings,
) -> bool:
    """Dispatch the locked ``session`` in the caller's transaction; False if its link had expired (it is
    ended now: the caller raises ``link_expired`` once the transaction is committed)."""
    events = await _dispatch(tx, session, by, correlation_id, settings)
    if events is None:
        return False
    await add_to_outbox(tx, SCHEMA, *events)
    return True


async def manager_dispatch(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID, correlation_id: str,
    settings: SessionSettings, links: JoinLinks | None = None,
) -> SessionPublic:
    """A manager sends the bot now (an interview run live with the candidate)."""
    async with transaction(db, org_id) as tx:
        session, granted, scores = await require_session_scores(
            tx, principal, org_id, session_id, "manage", lock=True)
        dispatched = await dispatch_locked(tx, session, principal.sub, correlation_id, settings)
    if not dispatched:
        raise link_expired(session.join_deadline)
    return public(session, granted, links, scores)


async def candidate_start(
    db: SessionMaker, claims: JoinClaims, correlation_id: str, settings: SessionSettings,
    rooms: Rooms | None = None, queue: QueueReader | None = None,
) -> JoinInfo:
    """The candidate pressed Start: the bot job goes out (once; pressing again changes nothing). Needs
    their consent first."""
    async with transaction(db, claims.org) as tx:
        session = await candidate_session(tx, claims, lock=True)
        if session.consent_at is None:
            raise Conflict("Consent first: the candidate has not agreed to the AI interview and its recording.",
                           code="consent_required")
        dispatched = await dispatch_locked(tx, session, f"candidate:{session.id}", correlation_id, settings)
    if not dispatched:
        raise link_expired(session.join_deadline)
    return await join_info(db, claims, settings.data_retention_days, rooms, queue)


async def release(
    db: SessionMaker, org_id: UUID, session_id: UUID, consumer: str, event_id: UUID,
) -> bool:
    """A bot let the session go (no one connected): it may be started again. False if a duplicate or moot."""
    async with transaction(db, org_id) as tx:
        if not await claim_inbox(tx, SCHEMA, consumer, event_id):
            return False
        session = await repo.lock_session(tx, session_id)
        if session is None or S(session.status) != S.ready or session.dispatched_at is None:
            return False
        session.dispatched_at, session.updated_at = None, datetime.now(UTC)
        tx.add(session)
    log.info("session_released", session_id=str(session_id))
    return True


class LinkExpiry:
    """Ends sessions past their join deadline that were never dispatched, every ``link_expiry_sweep_seconds``."""

    def __init__(self, db: SessionMaker, settings: SessionSettings) -> None:
        self._db = db
        self._settings = settings
        self._stopping = asyncio.Event()

    async def sweep_once(self) -> int:
        schema = self._settings.db_schema
        async with transaction(self._db) as tx:
            due = (await tx.execute(text(f"SELECT org_id, session_id FROM {schema}.sessions_past_deadline(:n)"),
                                    {"n": self._settings.link_expiry_sweep_batch})).all()
        ended = 0
        for org_id, session_id in due:
            async with transaction(self._db, org_id) as tx:
                session = await repo.lock_session(tx, session_id)
                if session is None or S(session.status) != S.ready or session.dispatched_at is not None:
                    continue  # dispatched or ended meanwhile
                if session.join_deadline is None or session.join_deadline > datetime.now(UTC):
                    continue  # a manager moved the deadline meanwhile
                events = apply_transition(session, S.failed, "link_expired", "system:link-expiry", None)
                tx.add(session)
                await tx.flush()
                await add_to_outbox(tx, SCHEMA, *events)
                ended += 1
        if due:
            log.info("links_expired", due=len(due), ended=ended)
        return ended

    async def run(self) -> None:
        await every(self._settings.link_expiry_sweep_seconds, self._stopping, self.sweep_once,
                    "link_expiry_sweep_failed")

    def stop(self) -> None:
        self._stopping.set()
