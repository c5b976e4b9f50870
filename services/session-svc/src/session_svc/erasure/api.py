"""Routes: the gateway's DELETE /api/voice/candidates?email= (org admins)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from session_svc.erasure import service
from voice_shared.api.common import Email
from voice_shared.api.org import ErasureReceipt
from voice_shared.auth import PrincipalDep, bearer_token
from voice_shared.deps import DbDep, OrgIdQuery, RelayDep

router = APIRouter(prefix="/api/voice")


@router.delete("/candidates")
async def erase_candidate(
    org_id: OrgIdQuery, email: Annotated[Email, Query()], principal: PrincipalDep, db: DbDep, relay: RelayDep,
    request: Request,
) -> ErasureReceipt:
    receipt = await service.erase_candidate(
        db, request.app.state.transcript_erasure, principal, org_id, email, f"Bearer {bearer_token(request)}",
        str(request.state.correlation_id),
    )
    relay.wake()
    return receipt
