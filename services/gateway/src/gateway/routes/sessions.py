"""Voice sessions: lifecycle, shares and the org's stats."""

from typing import Annotated
from uuid import UUID

from fastapi import Body, Query, Request, Response, status
from pydantic import AwareDatetime

from gateway.routes.common import PublicRouter, _error
from gateway.upstream import forward
from voice_shared.api.common import Page
from voice_shared.api.sessions import (
    SessionCreate,
    SessionPublic,
    SessionTransition,
    SessionUpdate,
    ShareCreate,
    SharePublic,
    Stats,
)
from voice_shared.contracts import SessionStatus
from voice_shared.deps import Cursor, Limit, OrgIdQuery

router = PublicRouter("sessions")

Transition = Annotated[SessionTransition | None, Body()]


@router.post("/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionPublic)
async def create_session(request: Request, org_id: OrgIdQuery, body: SessionCreate) -> Response:
    """Create a pending session for a candidate on an active config."""
    return await forward(request, body)


@router.get("/sessions", response_model=Page[SessionPublic])
async def list_sessions(
    request: Request,
    org_id: OrgIdQuery,
    status_: Annotated[SessionStatus | None, Query(alias="status")] = None,
    workspace_id: Annotated[UUID | None, Query(alias="workspaceId")] = None,
    config_id: Annotated[UUID | None, Query(alias="configId")] = None,
    interview_type: Annotated[str | None, Query(alias="interviewType", max_length=64)] = None,
    candidate: Annotated[str | None, Query(max_length=200, description="Name or email contains.")] = None,
    # A timezone is required: without one the same text names a different instant on each server.
    created_from: Annotated[AwareDatetime | None, Query(alias="createdFrom")] = None,
    created_to: Annotated[AwareDatetime | None, Query(alias="createdTo")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The sessions the caller may see, newest first, filtered server-side."""
    return await forward(request)


@router.get("/sessions/{session_id}", response_model=SessionPublic)
async def get_session(request: Request, session_id: UUID, org_id: OrgIdQuery) -> Response:
    """One session."""
    return await forward(request)


@router.patch("/sessions/{session_id}", response_model=SessionPublic)
async def update_session(request: Request, session_id: UUID, org_id: OrgIdQuery, body: SessionUpdate) -> Response:
    """Change the candidate, metadata, assignee or workspace sharing."""
    return await forward(request, body)


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(request: Request, session_id: UUID, org_id: OrgIdQuery) -> Response:
    """Soft-delete a session (cancelling it first if it is still running)."""
    return await forward(request)


@router.post("/sessions/{session_id}/start", response_model=SessionPublic)
async def start_session(request: Request, session_id: UUID, org_id: OrgIdQuery, body: Transition = None) -> Response:
    """Invite the candidate: provision the room and issue the link, valid until joinDeadline (pending -> ready).

    No bot is taken: the candidate's Start on the join page sends it (or `dispatch`)."""
    return await forward(request, body)


@router.post("/sessions/{session_id}/dispatch", response_model=SessionPublic, responses={
    410: _error("The join deadline has passed (`link_expired`): the session has ended."),
    429: _error("The organisation runs its limit of interviews at once (`concurrency_limit`, with the limit)."),
})
async def dispatch_session(request: Request, session_id: UUID, org_id: OrgIdQuery) -> Response:
    """Send the interviewer now, as the candidate's Start would (an interview run live with a recruiter).

    409 unless the session is ready; 410 `link_expired` past its join deadline; 429 `concurrency_limit`
    when the org already runs its limit of interviews. Sending it again changes nothing."""
    return await forward(request)


@router.post("/sessions/{session_id}/end", response_model=SessionPublic)
async def end_session(request: Request, session_id: UUID, org_id: OrgIdQuery, body: Transition = None) -> Response:
    """End the interview as completed."""
    return await forward(request, body)


@router.post("/sessions/{session_id}/cancel", response_model=SessionPublic)
async def cancel_session(request: Request, session_id: UUID, org_id: OrgIdQuery, body: Transition = None) -> Response:
    """Cancel a session that has not ended."""
    return await forward(request, body)


@router.get("/sessions/{session_id}/shares", response_model=list[SharePublic])
async def list_shares(request: Request, session_id: UUID, org_id: OrgIdQuery) -> Response:
    """Who else may view this session, and how much."""
    return await forward(request)


@router.post("/sessions/{session_id}/shares", status_code=status.HTTP_201_CREATED,
             response_model=SharePublic)
async def create_share(request: Request, session_id: UUID, org_id: OrgIdQuery, body: ShareCreate) -> Response:
    """Share a session with a user at a level."""
    return await forward(request, body)


@router.delete("/sessions/{session_id}/shares/{share_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_share(request: Request, session_id: UUID, share_id: UUID, org_id: OrgIdQuery) -> Response:
    """Withdraw a share."""
    return await forward(request)


@router.get("/stats", response_model=Stats)
async def get_stats(request: Request, org_id: OrgIdQuery) -> Response:
    """Counts over the sessions the caller may see."""
    return await forward(request)
