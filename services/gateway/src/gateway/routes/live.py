"""WebSocket /api/voice/sessions/{id}/live?orgId=&after=: a session's transcript as it is spoken.

Authentication is a bearer token in the ``Sec-WebSocket-Protocol`` header (offer ``voice-live.v1``
and ``bearer.<token>``) or in the first message, ``{"type": "auth", "token": "..."}``; never in the
URL. The caller needs 'view_transcript' access to the session (session-svc decides). Then:
``snapshot`` (status and the segments after ``after``), ``transcript_segment`` and ``session_status``
messages in order, ``{"type": "ping"}`` every so often (answer or not) and ``pong`` to a client's
``ping``; at the session's end a final ``session_status`` and close 1000 with the status as reason.
Refusals close with a code and a reason: 4400 bad request, 4401 unauthenticated, 4403 not allowed,
4404 no such session, 4408 no authentication in time, 4429 too slow a reader, 1013 try again later.
A socket closes with 4401 when its token expires: reconnect with a fresh one and ``after``.
"""

import asyncio
import json
import time
import uuid
from contextlib import suppress
from typing import Any
from uuid import UUID

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from gateway.live import END, LiveHub, Viewer
from gateway.upstream import CORRELATION_HEADER, Upstream, UpstreamUnavailable, client_of, send
from voice_shared.api.access import allows
from voice_shared.api.transcripts import SessionAccess, SessionSegments
from voice_shared.auth import TokenVerifier
from voice_shared.contracts import SessionStatus
from voice_shared.errors import AppError

log = structlog.get_logger()
router = APIRouter()

PROTOCOL = "voice-live.v1"
BEARER = "bearer."
TERMINAL = {SessionStatus.completed, SessionStatus.failed, SessionStatus.cancelled}


class Refused(Exception):
    """Close the socket with ``code`` and ``reason`` (at most 123 bytes on the wire)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason[:120]


def _parse_query(ws: WebSocket) -> tuple[UUID, int]:
    try:
        org_id = UUID(ws.query_params["orgId"])
    except (KeyError, ValueError):
        raise Refused(4400, "orgId must be the organisation's id (a UUID)") from None
    try:
        after = int(ws.query_params.get("after", "-1"))
    except ValueError:
        raise Refused(4400, "after must be a sequence number") from None
    if after < -1:
        raise Refused(4400, "after must be -1 or more")
    return org_id, after


async def _token(ws: WebSocket, offered: list[str], timeout: float) -> str:  # noqa: ASYNC109
    """From the subprotocols offered, else from the first message."""
    if token := next((p[len(BEARER):] for p in offered if p.startswith(BEARER)), None):
        return token
    try:
        first = await asyncio.wait_for(ws.receive_text(), timeout)
    except TimeoutError:
        raise Refused(4408, "send {\"type\": \"auth\", \"token\": ...} first") from None
    try:
        message = json.loads(first)
    except ValueError:
        raise Refused(4400, "messages must be JSON") from None
    if not (isinstance(message, dict) and message.get("type") == "auth" and isinstance(message.get("token"), str)):
        raise Refused(4400, "the first message must be {\"type\": \"auth\", \"token\": ...}")
    return str(message["token"])


async def _get(ws: WebSocket, upstream: Upstream, path: str, token: str, params: dict[str, Any]) -> Any:
    """GET from a service with the viewer's own token; a refusal becomes the close it means."""
    headers = {"Authorization": f"Bearer {token}", CORRELATION_HEADER: ws.state.correlation_id}
    try:
        answer = await send(client_of(ws, upstream), "GET", path, upstream=upstream, params=params, headers=headers)
    except UpstreamUnavailable:
        raise Refused(1013, f"{upstream} is unavailable; reconnect shortly") from None
    if answer.status_code == 404:
        raise Refused(4404, "no such session")
    if answer.status_code == 403:
        raise Refused(4403, "this needs 'view_transcript' access to the session")
    if answer.status_code == 401:
        raise Refused(4401, "the token is not valid")
    if answer.status_code != 200:
        raise Refused(1013, f"{upstream} answered {answer.status_code}; reconnect shortly")
    return answer.json()


async def _stream(ws: WebSocket, viewer: Viewer, ping_seconds: float, token_expires: int | None) -> None:
    """Send what the hub gives the viewer, answer pings, until the session ends, the viewer goes or
    the viewer's token expires."""

    async def sender() -> None:
        while True:
            try:
                outgoing = await asyncio.wait_for(viewer.pending.get(), ping_seconds)
            except TimeoutError:
                await ws.send_json({"type": "ping"})
                continue
            message = outgoing.message
            if message["type"] == END:
                raise Refused(1000, message["status"])
            if message["type"] != "transcript_segment" or viewer.wants(message):
                await ws.send_text(outgoing.text)

    async def receiver() -> None:
        while True:
            text = await ws.receive_text()
            with suppress(ValueError):
                if json.loads(text).get("type") == "ping":
                    await ws.send_json({"type": "pong"})

    async def watchdog() -> None:
        await viewer.too_slow.wait()
        raise Refused(4429, "too slow a reader: reconnect with ?after=<last sequence>")

    async def expiry() -> None:
        if token_expires is None:
            await asyncio.Event().wait()
            return
        await asyncio.sleep(max(0.0, token_expires - time.time()))
        raise Refused(4401, "the token expired: reconnect with a fresh one and ?after=<last sequence>")

    tasks = [asyncio.create_task(t()) for t in (sender, receiver, watchdog, expiry)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()  # Refused or WebSocketDisconnect


@router.websocket("/api/voice/sessions/{session_id}/live")
async def live(ws: WebSocket, session_id: str) -> None:
    settings = ws.app.state.settings
    hub: LiveHub = ws.app.state.live
    ws.state.correlation_id = uuid.uuid4().hex
    offered = list(ws.scope.get("subprotocols", []))
    await ws.accept(subprotocol=PROTOCOL if PROTOCOL in offered else None)
    viewer: Viewer | None = None
    sid: UUID | None = None
    try:
        try:
            sid = UUID(session_id)
        except ValueError:
            raise Refused(4400, "the session id must be a UUID") from None
        org_id, after = _parse_query(ws)
        token = await _token(ws, offered, settings.live_auth_timeout_seconds)
        verifier: TokenVerifier = ws.app.state.token_verifier
        try:
            principal = await verifier.verify(token)
        except AppError as e:
            raise Refused(4401, e.message) from None
        found = SessionAccess.model_validate(await _get(
            ws, "session-svc", f"/internal/sessions/{sid}/access", token, {"orgId": str(org_id)}))
        if not allows(found.access, "view_transcript"):
            raise Refused(4403, "this needs 'view_transcript' access to the session")
        # Listen before the snapshot is read: what arrives meanwhile waits, and duplicates are dropped.
        viewer = Viewer(settings.live_max_pending, after=after)
        hub.add(sid, viewer)
        snapshot = SessionSegments.model_validate(await _get(
            ws, "transcript-svc", f"/internal/sessions/{sid}/segments", token,
            {"orgId": str(org_id), "after": str(after)}))
        for segment in snapshot.segments:
            viewer.sent[segment.sequence] = segment.final
        await ws.send_json({"type": "snapshot", "status": found.status.value,
                            **snapshot.model_dump(mode="json", by_alias=True)})
        log.info("live_viewer_joined", session_id=str(sid), after=after, segments=len(snapshot.segments))
        if found.status in TERMINAL:
            raise Refused(1000, found.status.value)
        await _stream(ws, viewer, settings.live_ping_seconds, principal.exp)
    except Refused as refused:
        if refused.code != 1000:
            log.info("live_viewer_refused", code=refused.code, reason=refused.reason)
        if ws.application_state == WebSocketState.CONNECTED:
            with suppress(RuntimeError, WebSocketDisconnect):
                await ws.close(refused.code, refused.reason)
    except WebSocketDisconnect:
        pass
    finally:
        if viewer is not None and sid is not None:
            hub.remove(sid, viewer)
