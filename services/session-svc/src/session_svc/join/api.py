"""Internal endpoints of the join page, called by the gateway with the candidate's own join token."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from session_svc.deps import SettingsDep
from session_svc.dispatch import service as dispatch
from session_svc.join import service
from session_svc.join.service import JoinLinks, QueueReader
from session_svc.rooms.api import RoomsDep
from voice_shared.api.join import ConsentCreate, ConsentPublic, JoinInfo
from voice_shared.deps import DbDep, RelayDep, from_state
from voice_shared.join import CandidateDep

router = APIRouter(prefix="/internal/join", tags=["join"])


async def join_links(settings: SettingsDep) -> JoinLinks:
    return JoinLinks(settings)


JoinLinksDep = Annotated[JoinLinks, Depends(join_links)]
QueueDep = Annotated[QueueReader, from_state("queue")]


@router.get("/{session_id}")
async def get_join_info(
    session_id: UUID, candidate: CandidateDep, db: DbDep, settings: SettingsDep, rooms: RoomsDep, queue: QueueDep,
    with_queue: Annotated[bool, Query(alias="withQueue", description="Ask the orchestrator for the place in line.")]
    = False,
) -> JoinInfo:
    """What the join page shows: only for the session the token names (404 otherwise)."""
    return await service.join_info(db, candidate, settings.data_retention_days, rooms, queue if with_queue else None)


@router.post("/{session_id}/consent")
async def give_consent(
    session_id: UUID, body: ConsentCreate, candidate: CandidateDep, db: DbDep, rooms: RoomsDep
) -> ConsentPublic:
    """Record the candidate's consent (idempotent; 409 once the session is over)."""
    return await service.record_consent(db, candidate, body, rooms)


@router.post("/{session_id}/start")
async def start_interview(
    session_id: UUID, candidate: CandidateDep, db: DbDep, settings: SettingsDep, rooms: RoomsDep, queue: QueueDep,
    relay: RelayDep, request: Request,
) -> JoinInfo:
    """The candidate pressed Start (after consent): the interviewer is sent (once; 410 past the deadline,
    429 over the org's concurrency limit)."""
    info = await dispatch.candidate_start(db, candidate, str(request.state.correlation_id), settings, rooms, queue)
    relay.wake()
    return info

