"""Signalling of local rooms: a peer's SDP offer in, the session's bot's answer out."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Security

from gateway import signalling
from gateway.routes.common import ERRORS, WRITE_ERRORS, _error, bearer
from voice_shared.api.webrtc import WebRtcAnswer, WebRtcOffer

# Not a PublicRouter: besides users' tokens it takes the candidate's join token, so
# `signalling.authorize` verifies whichever the caller sent.
router = APIRouter(prefix="/api/voice", tags=["webrtc"], dependencies=[Security(bearer)])

OptionalOrgId = Annotated[UUID | None, Query(
    alias="orgId", description="The organisation; required with a user's token (a join token names its own).",
)]

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS, **WRITE_ERRORS,
    409: _error("The session is not ready or active, not a local room, the candidate has not "
                "consented, no bot serves it yet (`bot_not_connected`: retry), or the bot refused."),
    504: _error("The bot did not answer in time (`bot_timeout`: retry)."),
}


@router.post("/sessions/{session_id}/webrtc/offer", response_model=WebRtcAnswer, responses=RESPONSES)
async def post_offer(
    request: Request, session_id: UUID, body: WebRtcOffer, org_id: OptionalOrgId = None
) -> WebRtcAnswer:
    """Join the session's local room: send the SDP offer, get the bot's SDP answer.

    For the session's candidate (join token, after consent) and users who manage the session.
    ICE candidates travel inside the SDP; in local mode they are on 127.0.0.1 only.
    """
    peer = await signalling.authorize(request, session_id, org_id)
    return await signalling.negotiate(request, session_id, peer, body)
