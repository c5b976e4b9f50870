"""The candidate's join link (not under /api/voice): the page, its consent, and its assets.

The join token in the path is the candidate's only credential. The gateway verifies it, then
calls session-svc's internal join API with that same token, which session-svc verifies again.
"""

from datetime import UTC, datetime

import httpx
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from gateway.join_page import asset, error_page, join_page
from gateway.upstream import CORRELATION_HEADER, BadGateway, UpstreamUnavailable, client_of
from voice_shared.api.join import ConsentCreate, JoinInfo
from voice_shared.contracts import SessionStatus
from voice_shared.errors import NotFound, Unauthorized
from voice_shared.join import JoinClaims, JoinTokens

log = structlog.get_logger()

router = APIRouter(tags=["join"], include_in_schema=False)

ENDED = {SessionStatus.completed, SessionStatus.failed, SessionStatus.cancelled}


def _claims(request: Request, token: str) -> JoinClaims:
    return JoinTokens(request.app.state.settings).verify(token)


async def _session_svc(
    request: Request, method: str, path: str, token: str, body: ConsentCreate | None = None
) -> httpx.Response:
    """session-svc's internal join API, called with the candidate's own token."""
    client = client_of(request)
    headers = {"Authorization": f"Bearer {token}", CORRELATION_HEADER: request.state.correlation_id}
    content = None
    if body is not None:
        content, headers["Content-Type"] = body.model_dump_json(by_alias=True), "application/json"
    try:
        return await client.request(method, path, content=content, headers=headers)
    except httpx.TransportError as e:
        log.warning("upstream_unavailable", upstream="session-svc", error=f"{type(e).__name__}: {e}")
        raise UpstreamUnavailable("session-svc did not answer; try again shortly.") from e


@router.get("/join/assets/{name}")
async def join_asset(name: str) -> Response:
    """The join page's script and stylesheet."""
    found = asset(name)
    if found is None:
        raise NotFound("No such file.")
    content, media_type = found
    return Response(content, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("/join/{token}", response_class=HTMLResponse)
async def join(request: Request, token: str) -> HTMLResponse:
    """The candidate's page: who interviews them, the AI and recording disclosure, consent, then the call."""
    try:
        claims = _claims(request, token)
    except Unauthorized as e:
        if e.code == "join_link_expired":
            return error_page(401, "This link has expired",
                              "Ask the person who invited you to the interview for a new link.")
        return error_page(404, "This link does not work",
                          "Check that you opened the whole link from your invitation, or ask for a new one.")
    try:
        answer = await _session_svc(request, "GET", f"/internal/join/{claims.sid}", token)
    except UpstreamUnavailable:
        return error_page(503, "The interview service is busy",
                          "We could not load your interview just now. Please reload this page in a minute.")
    if answer.status_code in (401, 404):
        return error_page(404, "This interview no longer exists",
                          "It may have been withdrawn. Contact the person who invited you.")
    if answer.status_code != 200:
        log.warning("join_info_failed", status=answer.status_code, session_id=str(claims.sid))
        return error_page(502, "Something went wrong",
                          "We could not load your interview. Please reload this page in a minute.")
    info = JoinInfo.model_validate_json(answer.content)
    if info.status == SessionStatus.failed and info.status_reason == "link_expired" or _past_deadline(info):
        when = f" on {info.join_deadline:%d %B %Y at %H:%M} UTC" if info.join_deadline else ""
        return error_page(410, "This link has expired",
                          f"The interview could be started until{when or ' its deadline'}. "
                          "Ask the person who invited you for a new link.")
    if info.status in ENDED:
        return error_page(410, "This interview has ended",
                          "Thank you for your time. You can close this page.")
    return join_page(token, info)


def _past_deadline(info: JoinInfo) -> bool:
    """Ready, never started by the candidate, and past its deadline (the sweeper ends it soon)."""
    return (info.status == SessionStatus.ready and info.dispatched_at is None
            and info.join_deadline is not None and info.join_deadline <= datetime.now(UTC))


async def _relay(request: Request, token: str, method: str, action: str, body: ConsentCreate | None = None) -> Response:
    """session-svc's internal join API's JSON answer, as it is, for the page's script."""
    claims = _claims(request, token)  # a bad link is a 401 here, before anything else
    path = f"/internal/join/{claims.sid}" + (f"/{action}" if action else "?withQueue=true")
    answer = await _session_svc(request, method, path, token, body)
    if not answer.headers.get("content-type", "").startswith("application/json"):
        raise BadGateway("session-svc gave an answer that is not JSON.", details={"upstream": "session-svc"})
    return Response(answer.content or None, status_code=answer.status_code,
                    media_type=answer.headers.get("content-type"))


@router.post("/join/{token}/consent")
async def consent(request: Request, token: str, body: ConsentCreate) -> Response:
    """Store the candidate's consent on the session."""
    return await _relay(request, token, "POST", "consent", body)


@router.post("/join/{token}/start")
async def start(request: Request, token: str) -> Response:
    """The candidate pressed Start: send the interviewer (the page's state comes back, with the queue)."""
    return await _relay(request, token, "POST", "start")


@router.get("/join/{token}/state")
async def state(request: Request, token: str) -> Response:
    """The page's state while it waits: status, whether the interviewer is on the way, the queue."""
    return await _relay(request, token, "GET", "")
