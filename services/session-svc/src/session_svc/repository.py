"""Queries of session-svc. Repositories never commit: the service owns the transaction."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from session_svc.analytics.models import SessionAnalytics
from session_svc.models import VoiceConfig, VoiceConfigVersion, VoiceSession, VoiceShare
from session_svc.permissions import SessionFacts
from voice_shared.api.access import LEVELS, Access, ShareLevel
from voice_shared.api.common import decode_cursor, encode_cursor
from voice_shared.api.configs import InterviewDefinition
from voice_shared.auth import Principal
from voice_shared.errors import Conflict, NotFound

R = TypeVar("R")


def visible_to(principal: Principal, org_id: UUID, needed: Access = "view") -> ColumnElement[bool]:
    """The SQL twin of permissions.access: sessions the caller has at least ``needed`` access to."""
    s = VoiceSession
    if principal.is_org_admin(org_id):
        return col(s.org_id) == org_id
    if not principal.is_member(org_id):
        return false()
    levels = LEVELS[:LEVELS.index(needed) + 1]
    shared = exists().where(
        col(VoiceShare.session_id) == s.id, col(VoiceShare.user_id) == principal.sub,
        col(VoiceShare.level).in_(levels),
    ).correlate(VoiceSession)
    ors: list[ColumnElement[bool]] = [col(s.created_by) == principal.sub, col(s.assignee_id) == principal.sub, shared]
    if principal.workspaces and needed == "view":  # a workspace share gives 'view' only
        ors.append(and_(col(s.shared_with_workspace), col(s.workspace_id).in_(principal.workspaces)))
    return or_(*ors)


def live_sessions() -> ColumnElement[bool]:
    return col(VoiceSession.deleted_at).is_(None)


async def get_session_row(
    tx: AsyncSession, session_id: UUID, principal: Principal, *, lock: bool = False
) -> tuple[VoiceSession, ShareLevel | None, SessionAnalytics | None]:
    """The live session, the caller's own share level and what analytics said about the session (if
    anything); NotFound if absent or deleted."""
    stmt = (
        select(VoiceSession, col(VoiceShare.level), SessionAnalytics)
        .outerjoin(
            VoiceShare,
            and_(col(VoiceShare.session_id) == VoiceSession.id, col(VoiceShare.user_id) == principal.sub),
        )
        .outerjoin(SessionAnalytics, col(SessionAnalytics.session_id) == VoiceSession.id)
        .where(col(VoiceSession.id) == session_id, live_sessions())
    )
    if lock:
        stmt = stmt.with_for_update(of=VoiceSession)
    row = (await tx.execute(stmt)).first()
    if row is None:
        raise NotFound("No such session.", code="session_not_found")
    session, level, scores = row
    return session, ShareLevel(level) if level else None, scores


def facts(session: VoiceSession, share: ShareLevel | None) -> SessionFacts:
    return SessionFacts(
        org_id=session.org_id,
        created_by=session.created_by,
        assignee_id=session.assignee_id,
        workspace_id=session.workspace_id,
        shared_with_workspace=session.shared_with_workspace,
        share_level=share,
    )


def page_after(stmt: Any, model: Any, cursor: str | None, limit: int, *, keys: tuple[Any, Any] | None = None) -> Any:
    """Newest first, keyset-paginated on the model's (created_at, id) or on ``keys`` (a time and a
    unique column); fetches one extra row to see more."""
    at, key = keys or (model.created_at, model.id)
    if cursor:
        after_at, after_key = decode_cursor(cursor)
        stmt = stmt.where(tuple_(at, key) < tuple_(after_at, after_key))
    return stmt.order_by(at.desc(), key.desc()).limit(limit + 1)


def page_of(rows: Sequence[R], limit: int, key: Callable[[R], tuple[datetime, UUID]]) -> tuple[list[R], str | None]:
    """The page of a ``page_after`` query (which fetched one row more than ``limit``) and the cursor
    after its last row if more follow; ``key`` is the last row's (time, id)."""
    page = list(rows[:limit])
    return page, encode_cursor(*key(page[-1])) if len(rows) > limit and page else None


async def count(tx: AsyncSession, model: Any, *where: Any) -> int:
    return (await tx.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def get_config_row(tx: AsyncSession, config_id: UUID, *, lock: bool = False) -> VoiceConfig:
    stmt = select(VoiceConfig).where(col(VoiceConfig.id) == config_id)
    if lock:
        stmt = stmt.with_for_update()
    config = (await tx.execute(stmt)).scalar_one_or_none()
    if config is None:
        raise NotFound("No such interview config.", code="config_not_found")
    return config


async def config_in_use(tx: AsyncSession, config_id: UUID) -> int:
    return await count(tx, VoiceSession, col(VoiceSession.config_id) == config_id)


def created_between(model: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    where = []
    if start is not None:
        where.append(model.created_at >= start)
    if end is not None:
        where.append(model.created_at < end)
    return where


async def lock_session(tx: AsyncSession, session_id: UUID) -> VoiceSession | None:
    """The session's row (deleted or not), locked for the rest of the transaction."""
    stmt = select(VoiceSession).where(col(VoiceSession.id) == session_id).with_for_update()
    return (await tx.execute(stmt)).scalar_one_or_none()


def running() -> ColumnElement[bool]:
    """Sessions that hold (or wait for) a bot: active, or ready with their bot job out."""
    s = VoiceSession
    return and_(live_sessions(), or_(col(s.status) == "active",
                                     and_(col(s.status) == "ready", col(s.dispatched_at).is_not(None))))


async def running_interviews(tx: AsyncSession, org_id: UUID) -> int:
    """The org's running interviews, counted under a per-org lock held to the end of the transaction,
    so two Starts at once cannot both take the last place."""
    await tx.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"dispatch:{org_id}", 0))))
    stmt = select(func.count()).select_from(VoiceSession).where(col(VoiceSession.org_id) == org_id, running())
    return int((await tx.execute(stmt)).scalar_one())


async def session_definition(tx: AsyncSession, session: VoiceSession) -> InterviewDefinition:
    """The config version the session runs; a 409 if it is gone (configs are soft-deleted, so only by hand)."""
    version = await tx.get(VoiceConfigVersion, (session.config_id, session.config_version))
    if version is None:
        raise Conflict("The session's config version no longer exists.", code="config_not_found")
    return InterviewDefinition.model_validate(version.definition)
