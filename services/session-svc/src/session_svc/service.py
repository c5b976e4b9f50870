"""Voice sessions: create, read, list, update, delete, lifecycle transitions, shares, stats."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from session_svc import repository as repo
from session_svc.analytics import repository as analytics
from session_svc.analytics.models import SessionAnalytics
from session_svc.join.service import JoinLinks, QueueReader
from session_svc.knowledge.service import link_kbs
from session_svc.lifecycle import TERMINAL, check_transition
from session_svc.models import VoiceSession, VoiceShare
from session_svc.permissions import access, can_create_sessions, require_member
from session_svc.rooms.service import Rooms, current_room, room_public
from session_svc.settings import SCHEMA
from voice_shared.api.access import Access, ShareLevel, allows
from voice_shared.api.common import Page
from voice_shared.api.sessions import (
    ConfigScores,
    SessionCreate,
    SessionPublic,
    SessionScore,
    SessionUpdate,
    ShareCreate,
    SharePublic,
    Stats,
)
from voice_shared.auth import Principal
from voice_shared.contracts import (
    Envelope,
    SessionCreated,
    SessionEnded,
    SessionStarted,
    SessionStatus,
    envelope,
)
from voice_shared.db import SessionMaker, transaction
from voice_shared.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from voice_shared.outbox import add_to_outbox, claim_inbox

S = SessionStatus


def public(
    session: VoiceSession, granted: Access, links: JoinLinks | None = None, scores: SessionAnalytics | None = None,
) -> SessionPublic:
    """The session as ``granted`` may see it: the join link only for managers, what analytics said
    about it (``scores``) only with 'view_analytics'."""
    link = links.for_session(session) if links is not None and granted == "manage" else None
    seen = scores if scores is not None and allows(granted, "view_analytics") else None
    duration = None
    if session.active_at and session.ended_at:
        duration = (session.ended_at - session.active_at).total_seconds()
    return SessionPublic.model_validate({
        **session.model_dump(exclude={"metadata_", "deleted_at"}), "metadata": session.metadata_,
        "duration_seconds": duration, "access": granted,
        "join_url": link.url if link else None, "join_url_expires_at": link.expires_at if link else None,
        "analytics": SessionScore.model_validate(seen) if seen is not None else None,
    })


async def require_session(
    tx: AsyncSession, principal: Principal, org_id: UUID, session_id: UUID, needed: Access,
    *, lock: bool = False,
) -> tuple[VoiceSession, Access]:
    """The session if the caller has ``needed``: 404 if they cannot see it, 403 if they can but lack it."""
    session, granted, _ = await require_session_scores(tx, principal, org_id, session_id, needed, lock=lock)
    return session, granted


async def require_session_scores(
    tx: AsyncSession, principal: Principal, org_id: UUID, session_id: UUID, needed: Access,
    *, lock: bool = False,
) -> tuple[VoiceSession, Access, SessionAnalytics | None]:
    """``require_session``, with what analytics said about the session (read in the same query)."""
    require_member(principal, org_id)
    session, share, scores = await repo.get_session_row(tx, session_id, principal, lock=lock)
    granted = access(principal, repo.facts(session, share))
    if granted is None:
        raise NotFound("No such session.", code="session_not_found")
    if not allows(granted, needed):
        raise Forbidden(f"This needs '{needed}' access to the session; you have '{granted}'.",
                        code="insufficient_access")
    return session, granted, scores


async def create_session(
    db: SessionMaker, principal: Principal, org_id: UUID, body: SessionCreate, correlation_id: str,
    links: JoinLinks | None = None,
) -> SessionPublic:
    require_member(principal, org_id)
    if not can_create_sessions(principal, org_id):
        raise Forbidden("Only org members may create sessions.")
    _check_deadline(body.join_deadline)
    async with transaction(db, org_id) as tx:
        config = await repo.get_config_row(tx, body.config_id)
        if not config.active:
            raise Conflict("The config is inactive; activate it or choose another.",
                           code="config_inactive")
        now = datetime.now(UTC)
        session = VoiceSession(
            id=uuid.uuid4(), org_id=org_id, workspace_id=body.workspace_id,
            config_id=config.id, config_version=config.version,
            interview_type=body.interview_type, candidate_name=body.candidate_name,
            candidate_email=body.candidate_email, metadata_=body.metadata,
            created_by=principal.sub, assignee_id=body.assignee_id,
            shared_with_workspace=body.shared_with_workspace, created_at=now, updated_at=now,
            join_deadline=body.join_deadline,
        )
        tx.add(session)
        await tx.flush()
        await link_kbs(tx, org_id, session.id, body.kb_ids)
        await add_to_outbox(tx, SCHEMA, envelope(
            SessionCreated(
                session_id=session.id, config_id=config.id, config_version=config.version,
                interview_type=session.interview_type, workspace_id=session.workspace_id,
                created_by=principal.sub,
            ),
            org_id=org_id, session_id=session.id, correlation_id=correlation_id,
        ))
    return public(session, "manage", links)


async def get_session(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID, links: JoinLinks | None = None,
    queue: QueueReader | None = None,
) -> SessionPublic:
    async with transaction(db, org_id) as tx:
        session, granted, scores = await require_session_scores(tx, principal, org_id, session_id, "view")
        room = await current_room(tx, session.id) if granted == "manage" else None
    place = await queue.place(session) if queue is not None else None
    return public(session, granted, links, scores).model_copy(update={"room": room_public(room), "queue": place})


@dataclass(frozen=True)
class SessionFilters:
    status: SessionStatus | None = None
    workspace_id: UUID | None = None
    config_id: UUID | None = None
    interview_type: str | None = None
    candidate: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def where(self) -> list[ColumnElement[bool]]:
        s = VoiceSession
        where = repo.created_between(s, self.created_from, self.created_to)
        if self.status is not None:
            where.append(col(s.status) == self.status.value)
        if self.workspace_id is not None:
            where.append(col(s.workspace_id) == self.workspace_id)
        if self.config_id is not None:
            where.append(col(s.config_id) == self.config_id)
        if self.interview_type is not None:
            where.append(col(s.interview_type) == self.interview_type)
        if self.candidate:
            pattern = "%" + self.candidate.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(col(s.candidate_name).ilike(pattern) | col(s.candidate_email).ilike(pattern))
        return where


async def list_sessions(
    db: SessionMaker, principal: Principal, org_id: UUID, filters: SessionFilters,
    limit: int, cursor: str | None, links: JoinLinks | None = None,
) -> Page[SessionPublic]:
    require_member(principal, org_id)
    where = [repo.live_sessions(), repo.visible_to(principal, org_id), *filters.where()]
    stmt = (
        select(VoiceSession, col(VoiceShare.level), SessionAnalytics)
        .outerjoin(VoiceShare, and_(col(VoiceShare.session_id) == VoiceSession.id,
                                    col(VoiceShare.user_id) == principal.sub))
        .outerjoin(SessionAnalytics, col(SessionAnalytics.session_id) == VoiceSession.id)
        .where(*where)
    )
    async with transaction(db, org_id, snapshot=True) as tx:
        rows = (await tx.execute(repo.page_after(stmt, VoiceSession, cursor, limit))).all()
        total = await repo.count(tx, VoiceSession, *where)
    page, next_cursor = repo.page_of(rows, limit, lambda r: (r[0].created_at, r[0].id))
    items = []
    for session, level, scores in page:
        granted = access(principal, repo.facts(session, ShareLevel(level) if level else None))
        if granted is not None:  # visible_to and access agree; this guards the twin
            items.append(public(session, granted, links, scores))
    return Page[SessionPublic](items=items, total=total, next_cursor=next_cursor)


def _check_deadline(deadline: datetime | None, status: SessionStatus = S.pending) -> None:
    """A join deadline is in the future, and only a session the candidate has not started may change it."""
    if status not in (S.pending, S.ready):
        raise Conflict(f"The session is {status}: its join deadline no longer applies.",
                       code="join_deadline_fixed", details={"status": status})
    if deadline is not None and deadline <= datetime.now(UTC):
        raise ValidationFailed("joinDeadline must be in the future.", code="validation_failed",
                               details=[{"loc": ["body", "joinDeadline"], "msg": "must be in the future"}])


async def update_session(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID, body: SessionUpdate,
    links: JoinLinks | None = None,
) -> SessionPublic:
    changes = body.model_dump(exclude_unset=True)
    async with transaction(db, org_id) as tx:
        session, granted, scores = await require_session_scores(
            tx, principal, org_id, session_id, "manage", lock=True)
        if "metadata" in changes:
            session.metadata_ = changes.pop("metadata") or {}
        if "join_deadline" in changes:
            _check_deadline(changes["join_deadline"], SessionStatus(session.status))
        for field, value in changes.items():
            if value is None and field in ("candidate_name", "candidate_email", "shared_with_workspace",
                                           "join_deadline"):
                continue  # explicit null on a required field leaves it as it is
            setattr(session, field, value)
        session.updated_at = datetime.now(UTC)
        tx.add(session)
    return public(session, granted, links, scores)


def apply_transition(
    session: VoiceSession, target: SessionStatus, reason: str | None, actor: str,
    correlation_id: str | None, transport: str = "local",
) -> list[Envelope]:
    """Apply one lifecycle transition to the row; return the events it emits."""
    check_transition(SessionStatus(session.status), target)
    now = datetime.now(UTC)
    session.status, session.status_reason, session.updated_at = target.value, reason, now
    wrap = partial(envelope, org_id=session.org_id, session_id=session.id, correlation_id=correlation_id)
    if target == S.ready:
        session.ready_at = now
        return [wrap(SessionStarted(
            session_id=session.id, config_id=session.config_id,
            config_version=session.config_version, transport=transport,  # type: ignore[arg-type]
            started_by=actor, join_deadline=session.join_deadline,
        ))]
    if target == S.active:
        session.active_at = now
        return []
    session.ended_at = now
    duration = (now - session.active_at).total_seconds() if session.active_at else None
    return [wrap(SessionEnded(
        session_id=session.id, status=target.value, reason=reason or target.value,  # type: ignore[arg-type]
        duration_seconds=duration,
    ))]


async def transition(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID,
    target: SessionStatus, reason: str | None, correlation_id: str, links: JoinLinks | None = None,
    rooms: Rooms | None = None,
) -> SessionPublic:
    """A user's start (to ready: ``rooms`` provisions the room), end (to completed) or cancel."""
    if target == S.ready:
        assert rooms is not None, "start provisions a room"
        return await start_session(db, rooms, principal, org_id, session_id, reason, correlation_id, links)
    async with transaction(db, org_id) as tx:
        session, granted, scores = await require_session_scores(
            tx, principal, org_id, session_id, "manage", lock=True)
        events = apply_transition(session, target, reason, principal.sub, correlation_id)
        tx.add(session)
        await tx.flush()
        await add_to_outbox(tx, SCHEMA, *events)
    return public(session, granted, links, scores)


async def start_session(
    db: SessionMaker, rooms: Rooms, principal: Principal, org_id: UUID, session_id: UUID,
    reason: str | None, correlation_id: str, links: JoinLinks | None = None,
) -> SessionPublic:
    """pending -> ready: reserve a room open until the join deadline, ask its provider outside any
    transaction, then move. No bot is taken: the candidate's Start dispatches it.

    The deadline is the session's own, else ``linkValidHours`` of its config from now. If the provider
    fails, the session stays pending with the failure as its status reason, so a retried start
    provisions a fresh room (the reserved one is deleted now or by the sweeper).
    """
    async with transaction(db, org_id) as tx:
        session, granted, scores = await require_session_scores(
            tx, principal, org_id, session_id, "manage", lock=True)
        check_transition(SessionStatus(session.status), S.ready)
        definition = await repo.session_definition(tx, session)
        deadline = session.join_deadline or datetime.now(UTC) + timedelta(hours=definition.link_valid_hours)
        if deadline <= datetime.now(UTC):
            raise Conflict("The session's joinDeadline has passed: set a later one before starting it.",
                           code="join_deadline_passed", details={"joinDeadline": deadline.isoformat()})
        reservation = await rooms.reserve(
            tx, session, definition.providers.transport, deadline, definition.max_duration_minutes,
            # Daily records only in its cloud; 'audio' is the bot's own recording.
            "cloud" if definition.providers.recording == "cloud" else "off",
        )
    try:
        provisioned = await rooms.provision(reservation)
    except Exception as e:
        reason_text = e.message if isinstance(e, AppError) else "unexpected error (logged)"
        async with transaction(db, org_id) as tx:
            await rooms.record_failure(tx, reservation, reason_text)
            row = (await tx.execute(
                select(VoiceSession).where(col(VoiceSession.id) == session_id).with_for_update()
            )).scalar_one()
            if SessionStatus(row.status) == S.pending:
                row.status_reason = f"room_provisioning_failed: {reason_text}"[:1000]
                row.updated_at = datetime.now(UTC)
                tx.add(row)
        await rooms.delete(org_id, reservation.room_id)  # a call that timed out may have made it
        raise
    async with transaction(db, org_id) as tx:
        room = await rooms.attach(tx, reservation, provisioned)
        session = (await tx.execute(
            select(VoiceSession).where(col(VoiceSession.id) == session_id).with_for_update()
        )).scalar_one()
        started = session.deleted_at is None and SessionStatus(session.status) == S.pending
        if started:
            session.join_deadline = deadline
            events = apply_transition(session, S.ready, reason, principal.sub, correlation_id,
                                      definition.providers.transport)
            tx.add(session)
            await tx.flush()
            await add_to_outbox(tx, SCHEMA, *events)
    if not started:
        await rooms.release_session(org_id, session_id)
        raise Conflict("The session was cancelled or deleted while its room was being provisioned; "
                       "the room has been released.", code="session_moved_on")
    return public(session, granted, links, scores).model_copy(update={"room": room_public(room)})


async def apply_bot_event(
    db: SessionMaker, org_id: UUID, session_id: UUID, target: SessionStatus, reason: str | None,
    consumer: str, event_id: UUID, correlation_id: str | None,
) -> bool:
    """A bot's report moves the session (inbox-deduplicated); False if it was a duplicate or moot."""
    async with transaction(db, org_id) as tx:
        if not await claim_inbox(tx, SCHEMA, consumer, event_id):
            return False
        session = (await tx.execute(
            select(VoiceSession).where(col(VoiceSession.id) == session_id).with_for_update()
        )).scalar_one_or_none()
        if session is None or SessionStatus(session.status) == target:
            return False
        if SessionStatus(session.status) in TERMINAL:
            return False  # the session ended first (e.g. cancelled): a late report changes nothing
        events = []
        if SessionStatus(session.status) == S.ready and target in TERMINAL:
            # bot.finished overtook bot.joined (separate queues): pass through active on the way.
            events += apply_transition(session, S.active, None, "bot", correlation_id)
        events += apply_transition(session, target, reason, "bot", correlation_id)
        tx.add(session)
        await tx.flush()
        await add_to_outbox(tx, SCHEMA, *events)
    return True


async def delete_session(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID, correlation_id: str
) -> None:
    """Soft delete; a session still running is cancelled first, so its room and bot are released."""
    async with transaction(db, org_id) as tx:
        session, _ = await require_session(tx, principal, org_id, session_id, "manage", lock=True)
        events = []
        if SessionStatus(session.status) not in TERMINAL:
            events = apply_transition(session, S.cancelled, "deleted", principal.sub, correlation_id)
        session.deleted_at = datetime.now(UTC)
        tx.add(session)
        await tx.flush()
        await add_to_outbox(tx, SCHEMA, *events)


def _share_public(share: VoiceShare) -> SharePublic:
    return SharePublic.model_validate(share)


async def list_shares(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID
) -> list[SharePublic]:
    async with transaction(db, org_id) as tx:
        await require_session(tx, principal, org_id, session_id, "manage")
        rows = (await tx.execute(
            select(VoiceShare).where(col(VoiceShare.session_id) == session_id).order_by(col(VoiceShare.created_at))
        )).scalars().all()
    return [_share_public(r) for r in rows]


async def create_share(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID, body: ShareCreate
) -> SharePublic:
    share = VoiceShare(
        id=uuid.uuid4(), org_id=org_id, session_id=session_id, user_id=body.user_id,
        level=body.level.value, created_by=principal.sub, created_at=datetime.now(UTC),
    )
    try:
        async with transaction(db, org_id) as tx:
            await require_session(tx, principal, org_id, session_id, "manage")
            tx.add(share)
    except IntegrityError as e:
        raise Conflict(f"The session is already shared with {body.user_id!r}; delete that share "
                       "first to change its level.", code="share_exists") from e
    return _share_public(share)


async def delete_share(
    db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID, share_id: UUID
) -> None:
    async with transaction(db, org_id) as tx:
        await require_session(tx, principal, org_id, session_id, "manage")
        share = await tx.get(VoiceShare, share_id)
        if share is None or share.session_id != session_id:
            raise NotFound("No such share.", code="share_not_found")
        await tx.delete(share)


async def stats(db: SessionMaker, principal: Principal, org_id: UUID) -> Stats:
    require_member(principal, org_id)
    s = VoiceSession
    now = datetime.now(UTC)
    week = now - timedelta(days=now.weekday(), hours=now.hour, minutes=now.minute,
                           seconds=now.second, microseconds=now.microsecond)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    completed = col(s.status) == S.completed.value
    where = [repo.live_sessions(), repo.visible_to(principal, org_id)]
    async with transaction(db, org_id, snapshot=True) as tx:
        by_status: dict[str, int] = dict((await tx.execute(
            select(col(s.status), func.count()).where(*where).group_by(col(s.status))
        )).all())
        week_n, month_n, avg = (await tx.execute(select(
            func.count(case((and_(completed, col(s.ended_at) >= week), 1))),
            func.count(case((and_(completed, col(s.ended_at) >= month), 1))),
            func.avg(case((completed, func.extract("epoch", col(s.ended_at) - col(s.active_at))))),
        ).where(*where))).one()
        # Scores only of the sessions whose analytics the caller may see, not every one they may view.
        scores = await analytics.scores_by_config(
            tx, repo.live_sessions(), repo.visible_to(principal, org_id, "view_analytics"))
    by_config = [_config_scores(row) for row in scores]
    scored = sum(c.scored for c in by_config)
    return Stats(
        total=sum(by_status.values()),
        by_status={status: by_status.get(status.value, 0) for status in SessionStatus},
        completed_this_week=week_n, completed_this_month=month_n,
        average_duration_seconds=float(avg) if avg is not None else None,
        average_score=sum(c.average_score * c.scored for c in by_config) / scored if scored else None,
        by_config=by_config,
    )


def _config_scores(row: Sequence[Any]) -> ConfigScores:
    """One row of ``analytics.scores_by_config`` as the API gives it."""
    config_id, scored, average, *counts = row
    buckets, decisions = counts[:len(analytics.SCORE_BUCKETS)], counts[len(analytics.SCORE_BUCKETS):]
    return ConfigScores(
        config_id=config_id, scored=scored, average_score=float(average),
        score_distribution=dict(zip(analytics.SCORE_BUCKETS, buckets, strict=True)),
        decisions=dict(zip(analytics.DECISION_COUNTS, decisions, strict=True)),
    )
