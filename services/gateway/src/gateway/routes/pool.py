"""The warm bot pool (platform admins): bots by state, the queue, the target in force, the schedule."""

from fastapi import Request, Response

from gateway.routes.common import PublicRouter
from gateway.upstream import forward
from voice_shared.api.pool import PoolPublic, PoolSchedule

router = PublicRouter("pool")


@router.get("/pool", response_model=PoolPublic)
async def get_pool(request: Request) -> Response:
    """The pool now (platform admins): bots by state, the queue, desired versus actual, the schedule in
    force, recent cold starts and pick-up times."""
    return await forward(request, to="bot-orchestrator")


@router.put("/pool/schedule", response_model=PoolPublic)
async def put_schedule(request: Request, body: PoolSchedule) -> Response:
    """Set the business-hours schedule (platform admins); the pool follows it within a second."""
    return await forward(request, body, to="bot-orchestrator")
