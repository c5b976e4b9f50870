"""WebRTC signalling of local rooms: who may send an offer, and the offer's trip to the session's bot.

The caller is the session's candidate (their join token) or a user who manages the session (e.g.
the simulator). session-svc says whether the session is joinable, with the caller's own token;
the offer then goes over the bus to the one bot bound to the session, whose answer comes back.
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import jwt
import structlog
from fastapi import Request

from gateway.settings import GatewaySettings
from gateway.upstream import CORRELATION_HEADER, BadGateway, client_of, send
from voice_shared.api.join import JoinInfo
from voice_shared.api.sessions import SessionPublic
from voice_shared.api.webrtc import WebRtcAnswer, WebRtcOffer
from voice_shared.auth import bearer_token
from voice_shared.bus import CommandClient, CommandTimedOut, CommandUnroutable, negotiate_routing_key
from voice_shared.contracts import NegotiateWebRtc, SessionStatus, WebRtcAnswered, WebRtcRefused, envelope
from voice_shared.errors import AppError, BadRequest, Conflict, Forbidden, NotFound
from voice_shared.join import JOIN_ISSUER, JoinTokens

log = structlog.get_logger()

BOT_POLL_SECONDS = 0.05  # an unroutable publish costs one round trip to the broker



class BotNotConnected(Conflict):
    code = "bot_not_connected"


class BotTimedOut(AppError):
    status, code = 504, "bot_timeout"


@dataclass(frozen=True)
class Peer:
    """Who sends the offer, once session-svc has agreed they may join the session."""

    kind: Literal["candidate", "manager"]
    subject: str
    org_id: UUID
    expecting_bot: bool  # the session's bot job is out (or it is active): worth waiting for the bot


async def authorize(request: Request, session_id: UUID, org_id: UUID | None) -> Peer:
    """The caller if they may join this session's local room now; else the error that says why."""
    token = bearer_token(request)
    if _issuer(token) == JOIN_ISSUER:
        return await _candidate(request, token, session_id, org_id)
    if org_id is None:
        raise BadRequest("Name the organisation with orgId (users' tokens may hold several).",
                         code="org_id_required")
    return await _manager(request, token, session_id, org_id)


async def _candidate(request: Request, token: str, session_id: UUID, org_id: UUID | None) -> Peer:
    claims = JoinTokens(request.app.state.settings).verify(token)
    if claims.sid != session_id or (org_id is not None and claims.org != org_id):
        raise NotFound("No such session.", code="session_not_found")
    info = JoinInfo.model_validate(await _session_svc(request, f"/internal/join/{session_id}", token))
    _joinable(info.status, info.transport)
    if info.consent_at is None:
        raise Conflict("Consent first: the candidate has not agreed to the AI interview and its recording.",
                       code="consent_required")
    return Peer("candidate", f"candidate:{session_id}", claims.org, _expecting_bot(info.status, info.dispatched_at))


async def _manager(request: Request, token: str, session_id: UUID, org_id: UUID) -> Peer:
    principal = await request.app.state.token_verifier.verify(token)  # a bad token: 401, no upstream call
    body = await _session_svc(request, f"/api/voice/sessions/{session_id}", token, {"orgId": str(org_id)})
    session = SessionPublic.model_validate(body)
    if session.access != "manage":
        raise Forbidden(f"Joining the room needs 'manage' access to the session; you have '{session.access}'.",
                        code="insufficient_access")
    _joinable(session.status, session.room.provider if session.room else None)
    return Peer("manager", principal.sub, org_id, _expecting_bot(session.status, session.dispatched_at))


def _expecting_bot(status: SessionStatus, dispatched_at: object) -> bool:
    return status == SessionStatus.active or dispatched_at is not None


def _joinable(status: SessionStatus, transport: str | None) -> None:
    if not status.live:
        raise Conflict(f"The session is {status}: its room is open only while it is ready or active.",
                       code="session_not_joinable", details={"status": status})
    if transport != "local":
        raise Conflict("This session's room is not a local one: join it with the room URL and a meeting "
                       "token instead.", code="not_a_local_room", details={"transport": transport})


async def negotiate(request: Request, session_id: UUID, peer: Peer, offer: WebRtcOffer) -> WebRtcAnswer:
    """Send the offer to the bot serving the session and return its answer."""
    settings: GatewaySettings = request.app.state.settings
    commands: CommandClient = request.app.state.commands
    command = envelope(
        NegotiateWebRtc(session_id=session_id, sdp=offer.sdp, pc_id=offer.pc_id, restart_pc=offer.restart_pc,
                        peer=peer.kind, requested_by=peer.subject),
        org_id=peer.org_id, session_id=session_id, correlation_id=request.state.correlation_id,
    )
    try:
        reply = await _request_bot(commands, command, session_id, settings, peer.expecting_bot)
    except CommandUnroutable as e:
        if not peer.expecting_bot:
            raise BotNotConnected("The interview has not been started: press Start (or dispatch it) first.",
                                  code="interview_not_started") from e
        raise BotNotConnected("The interviewer has not joined this session yet; try again in a few seconds.",
                              details={"retryable": True}) from e
    except CommandTimedOut as e:
        log.warning("webrtc_answer_timed_out", session_id=str(session_id))
        raise BotTimedOut("The interviewer did not answer the connection offer in time; try again.",
                          details={"retryable": True}) from e
    if reply.type == WebRtcAnswered.type:
        answered = WebRtcAnswered.model_validate(reply.payload)
        log.info("webrtc_answered", session_id=str(session_id), peer=peer.kind, pc_id=answered.pc_id)
        return WebRtcAnswer(sdp=answered.sdp, pc_id=answered.pc_id)
    if reply.type == WebRtcRefused.type:
        refused = WebRtcRefused.model_validate(reply.payload)
        raise Conflict(refused.message, code="webrtc_refused", details={"reason": refused.code})
    raise BadGateway("The interviewer gave an answer the gateway does not understand.",
                     details={"type": reply.type})


async def _request_bot(
    commands: CommandClient, command: Any, session_id: UUID, settings: GatewaySettings, wait: bool,
) -> Any:
    """The offer to the session's bot; while the bot taking the session has not begun serving it
    (``wait``: its job is out), tried again every ``BOT_POLL_SECONDS`` for ``webrtc_bot_wait_seconds``."""
    deadline = time.monotonic() + (settings.webrtc_bot_wait_seconds if wait else 0)
    while True:
        try:
            return await commands.request(command, negotiate_routing_key(session_id),
                                          settings.webrtc_answer_timeout_seconds)
        except CommandUnroutable:
            if time.monotonic() + BOT_POLL_SECONDS > deadline:
                raise
            await asyncio.sleep(BOT_POLL_SECONDS)


async def _session_svc(request: Request, path: str, token: str, params: dict[str, str] | None = None) -> Any:
    """GET from session-svc with the caller's own token; its errors are the caller's errors."""
    client = client_of(request)
    headers = {"Authorization": f"Bearer {token}", CORRELATION_HEADER: request.state.correlation_id}
    answer = await send(client, "GET", path, params=params, headers=headers)
    try:
        body = answer.json()
    except ValueError as e:
        raise BadGateway("session-svc gave an answer that is not JSON.",
                         details={"upstream": "session-svc", "status": answer.status_code}) from e
    if answer.status_code != 200:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        raised = AppError(error.get("message") or "session-svc refused the request.",
                          code=error.get("code") or "upstream_error", details=error.get("details"))
        raised.status = answer.status_code
        raise raised
    return body


def _issuer(token: str) -> str | None:
    """The unverified issuer, only to pick the verifier that then checks everything."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return issuer if isinstance(issuer, str) else None

