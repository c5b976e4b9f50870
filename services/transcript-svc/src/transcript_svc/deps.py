"""FastAPI dependencies of transcript-svc's API."""

from typing import Annotated

from fastapi import Depends, Request

from transcript_svc.archive import Archive
from transcript_svc.downloads import DownloadLinks
from transcript_svc.settings import TranscriptSettings
from voice_shared.session_access import SessionAccessClient


async def get_archive(request: Request) -> Archive:
    return request.app.state.archive


async def get_session_access(request: Request) -> SessionAccessClient:
    return request.app.state.session_access


async def get_download_links(request: Request) -> DownloadLinks:
    return request.app.state.download_links


async def get_settings(request: Request) -> TranscriptSettings:
    return request.app.state.settings


ArchiveDep = Annotated[Archive, Depends(get_archive)]
SessionAccessDep = Annotated[SessionAccessClient, Depends(get_session_access)]
DownloadLinksDep = Annotated[DownloadLinks, Depends(get_download_links)]
SettingsDep = Annotated[TranscriptSettings, Depends(get_settings)]
