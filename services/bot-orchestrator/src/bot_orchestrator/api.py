"""bot-orchestrator's HTTP API: the pool for platform admins (the gateway's /api/voice/pool), a session's
place in the queue for session-svc."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter

from bot_orchestrator.service import Pool
from voice_shared.api.pool import PoolPublic, PoolSchedule, QueuePlace
from voice_shared.auth import PrincipalDep
from voice_shared.deps import OrgIdQuery, from_state

router = APIRouter()

PoolDep = Annotated[Pool, from_state("pool")]


@router.get("/api/voice/pool")
async def get_pool(principal: PrincipalDep, pool: PoolDep) -> PoolPublic:
    return await pool.public(principal)


@router.put("/api/voice/pool/schedule")
async def put_schedule(body: PoolSchedule, principal: PrincipalDep, pool: PoolDep) -> PoolPublic:
    return await pool.set_schedule(principal, body)


@router.get("/internal/queue/{session_id}")
async def queue_place(session_id: UUID, org_id: OrgIdQuery, principal: PrincipalDep, pool: PoolDep) -> QueuePlace:
    return await pool.queue_place(principal, org_id, session_id)
