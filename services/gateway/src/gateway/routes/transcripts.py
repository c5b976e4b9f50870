"""Final transcripts: the list (session-svc knows whose they are) and each one, its export and its
deletion (transcript-svc, which holds them and asks session-svc who may read them)."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import AwareDatetime

from gateway.routes.common import ERRORS, PublicRouter
from gateway.upstream import forward
from voice_shared.api.common import Page
from voice_shared.api.transcripts import (
    CONTENT_TYPES,
    RecordingPublic,
    TranscriptFormat,
    TranscriptListItem,
    TranscriptPublic,
)
from voice_shared.deps import Cursor, Limit, OrgIdQuery

router = PublicRouter("transcripts")

EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The transcript as a file (Content-Disposition: attachment).",
          "content": {media: {"schema": {"type": "string"}} for media in CONTENT_TYPES.values()}},
}


@router.get("/transcripts", response_model=Page[TranscriptListItem])
async def list_transcripts(
    request: Request,
    org_id: OrgIdQuery,
    session_id: Annotated[UUID | None, Query(alias="sessionId")] = None,
    config_id: Annotated[UUID | None, Query(alias="configId")] = None,
    candidate: Annotated[str | None, Query(max_length=200, description="Name or email contains.")] = None,
    created_from: Annotated[AwareDatetime | None, Query(alias="createdFrom", description="Finalised from.")] = None,
    created_to: Annotated[AwareDatetime | None, Query(alias="createdTo", description="Finalised before.")] = None,
    has_analytics: Annotated[bool | None, Query(alias="hasAnalytics", description="Scored (or not) yet.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The final transcripts the caller may read ('view_transcript' access to the session or more),
    newest first, filtered server-side."""
    return await forward(request)


@router.get("/transcripts/{transcript_id}", response_model=TranscriptPublic)
async def get_transcript(
    request: Request, transcript_id: UUID, org_id: OrgIdQuery,
    include_text: Annotated[bool, Query(alias="includeText", description="Add the full text.")] = False,
) -> Response:
    """One transcript: every segment in order with speaker role, question and follow-up, word counts
    and talk-time share per speaker."""
    return await forward(request, to="transcript-svc")


@router.get("/transcripts/{transcript_id}/export", response_class=Response, responses=EXPORT_RESPONSES)
async def export_transcript(
    request: Request, transcript_id: UUID, org_id: OrgIdQuery,
    fmt: Annotated[TranscriptFormat, Query(alias="format")] = "json",
) -> Response:
    """Download the transcript as JSON, plain text with timestamps, or WebVTT captions."""
    return await forward(request, to="transcript-svc", download=True)


@router.get("/transcripts/{transcript_id}/recording", response_model=RecordingPublic)
async def recording_link(request: Request, transcript_id: UUID, org_id: OrgIdQuery) -> Response:
    """An expiring link to the interview's audio recording (stereo Ogg/Opus: candidate left,
    interviewer right; its time 0 is the segments' 0), when the config asked for one."""
    return await forward(request, to="transcript-svc")


# The link itself is the credential (as a presigned S3 URL is): no bearer token.
downloads = APIRouter(prefix="/api/voice", tags=["transcripts"], responses=ERRORS)


@downloads.get("/recordings/{token}", response_class=Response, responses={
    200: {"description": "The recording.", "content": {"audio/ogg": {"schema": {"type": "string"}}}}})
async def download_recording(
    request: Request, token: Annotated[str, Path(max_length=2000, pattern=r"^[A-Za-z0-9_.-]+$")]
) -> Response:
    """Download a recording through a link from `.../recording` (until it expires)."""
    return await forward(request, to="transcript-svc", download=True)


@router.delete("/transcripts/{transcript_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_transcript(request: Request, transcript_id: UUID, org_id: OrgIdQuery) -> Response:
    """Delete the transcript, its segments and every version of its archived files (org admins)."""
    return await forward(request, to="transcript-svc")
