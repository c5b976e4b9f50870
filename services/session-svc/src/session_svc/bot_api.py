"""Internal: a session's plan, for the bot that serves it and for analytics-svc, which scores it."""

from uuid import UUID

from fastapi import APIRouter
from sqlalchemy import text
from sqlmodel import col, select

from session_svc.deps import SettingsDep
from session_svc.knowledge.service import enabled_kb_ids
from session_svc.models import VoiceConfigVersion, VoiceSession
from voice_shared.api.bot import InvitedGreetings, SessionPlan
from voice_shared.api.configs import InterviewDefinition
from voice_shared.auth import Principal, PrincipalDep, require_service
from voice_shared.contracts import SessionStatus
from voice_shared.db import SessionMaker, transaction
from voice_shared.deps import DbDep, OrgIdQuery
from voice_shared.errors import Forbidden, NotFound

router = APIRouter(prefix="/internal/sessions", tags=["bot"])

PLAN_READERS = frozenset({"bot", "analytics"})
GREETINGS_AHEAD = 32  # as many as a bot keeps


@router.get("/invited-greetings")
async def invited_greetings(principal: PrincipalDep, db: DbDep, settings: SettingsDep) -> InvitedGreetings:
    """The greetings of sessions waiting for their candidate's Start (across orgs; the texts only), for a bot
    that comes up to synthesise ahead."""
    require_service(principal)
    if principal.service != "bot":
        raise Forbidden("Only the bot reads the invited greetings.", code="bot_only")
    async with transaction(db) as tx:
        rows = (await tx.execute(text(f"SELECT greeting FROM {settings.db_schema}.invited_greetings(:n)"),
                                 {"n": GREETINGS_AHEAD})).scalars()
        return InvitedGreetings(greetings=[g for g in rows if g])


@router.get("/{session_id}/plan")
async def session_plan(session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, db: DbDep) -> SessionPlan:
    """The session, its status, the definition of its config version and its enabled KBs."""
    return await load_plan(db, principal, org_id, session_id)


async def load_plan(db: SessionMaker, principal: Principal, org_id: UUID, session_id: UUID) -> SessionPlan:
    """404 for a session that is not the org's or was deleted (a bot then drops its job)."""
    require_service(principal)
    if principal.service not in PLAN_READERS:
        raise Forbidden("Only the bot and analytics-svc read a session's plan.", code="bot_only")
    async with transaction(db, org_id) as tx:
        session = (await tx.execute(
            select(VoiceSession).where(col(VoiceSession.id) == session_id, col(VoiceSession.deleted_at).is_(None))
        )).scalar_one_or_none()
        if session is None:
            raise NotFound("No such session.", code="session_not_found")
        version = await tx.get(VoiceConfigVersion, (session.config_id, session.config_version))
        if version is None:
            raise NotFound("The session's config version no longer exists.", code="config_not_found")
        kb_ids = await enabled_kb_ids(tx, session.id)
    return SessionPlan(
        session_id=session.id, org_id=session.org_id, status=SessionStatus(session.status),
        config_id=session.config_id, config_version=session.config_version,
        definition=InterviewDefinition.model_validate(version.definition), kb_ids=kb_ids,
    )
