"""transcript-svc's HTTP API: final transcripts (the gateway's /api/voice/transcripts/{id}) and, for
the bot, a session's stored segments."""

from dataclasses import asdict
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from transcript_svc import service
from transcript_svc.deps import ArchiveDep, DownloadLinksDep, SettingsDep
from voice_shared.api.transcripts import (
    RecordingPublic,
    RecordRemoved,
    SessionSegments,
    SessionsErasure,
    TranscriptFormat,
    TranscriptPublic,
)
from voice_shared.auth import ServiceDep
from voice_shared.deps import DbDep, OrgIdQuery
from voice_shared.session_access import CallerDep, SessionAccessDep

router = APIRouter()


@router.get("/internal/sessions/{session_id}/segments", tags=["segments"])
async def session_segments(
    session_id: UUID, org_id: OrgIdQuery, caller: CallerDep, db: DbDep, sessions: SessionAccessDep,
    after: Annotated[int | None, Query(ge=-1, description="Only segments after this sequence.")] = None,
) -> SessionSegments:
    """The session's stored segments in sequence order and the next sequence to publish: for the bot
    (resuming) and for users who may read the transcript (the gateway's live snapshot)."""
    return await service.readable_segments(db, sessions, caller, org_id, session_id, after)


@router.get("/internal/sessions/{session_id}/transcript", tags=["segments"])
async def session_transcript(
    session_id: UUID, org_id: OrgIdQuery, _: ServiceDep, db: DbDep,
    include_text: Annotated[bool, Query(alias="includeText")] = False,
) -> TranscriptPublic:
    """The session's final transcript with its segments, in one snapshot (services only: analytics-svc
    scores exactly the revision it reads)."""
    return await service.service_transcript(db, org_id, session_id, with_text=include_text)


@router.get("/api/voice/transcripts/{transcript_id}", tags=["transcripts"])
async def get_transcript(
    transcript_id: UUID, org_id: OrgIdQuery, caller: CallerDep, db: DbDep, sessions: SessionAccessDep,
    include_text: Annotated[bool, Query(alias="includeText")] = False,
) -> TranscriptPublic:
    return await service.get_transcript(db, sessions, caller, org_id, transcript_id, with_text=include_text)


@router.get("/api/voice/transcripts/{transcript_id}/export", tags=["transcripts"])
async def export_transcript(
    transcript_id: UUID, org_id: OrgIdQuery, caller: CallerDep, db: DbDep, sessions: SessionAccessDep,
    fmt: Annotated[TranscriptFormat, Query(alias="format")] = "json",
) -> Response:
    content, media_type, filename = await service.export_transcript(db, sessions, caller, org_id, transcript_id, fmt)
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/api/voice/transcripts/{transcript_id}/recording", tags=["transcripts"])
async def recording_link(
    transcript_id: UUID, org_id: OrgIdQuery, caller: CallerDep, db: DbDep, sessions: SessionAccessDep,
    archive: ArchiveDep, links: DownloadLinksDep, settings: SettingsDep,
) -> RecordingPublic:
    return await service.recording_link(db, sessions, archive, links, caller, org_id, transcript_id,
                                        settings.recording_link_seconds)


@router.get("/api/voice/recordings/{token}", tags=["transcripts"])
async def download_recording(token: str, db: DbDep, archive: ArchiveDep, links: DownloadLinksDep) -> Response:
    """The file a link from ``.../recording`` names; the signed link is the only credential."""
    content, media_type = await service.download(db, archive, links, token)
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": 'attachment; filename="interview.ogg"'})


@router.delete("/api/voice/transcripts/{transcript_id}", status_code=status.HTTP_204_NO_CONTENT,
               tags=["transcripts"])
async def delete_transcript(
    transcript_id: UUID, org_id: OrgIdQuery, caller: CallerDep, db: DbDep, archive: ArchiveDep,
) -> Response:
    await service.delete_transcript(db, archive, caller, org_id, transcript_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/internal/erasures", tags=["erasure"])
async def erase_sessions(
    org_id: OrgIdQuery, body: SessionsErasure, caller: CallerDep, db: DbDep, archive: ArchiveDep,
) -> RecordRemoved:
    """Remove every record of these sessions (session-svc calls it for a candidate's erasure, with
    the org admin's token): segments, transcripts, every object version; later events are dropped."""
    removed = await service.erase_sessions(db, archive, caller, org_id, body.session_ids)
    return RecordRemoved(**asdict(removed))
