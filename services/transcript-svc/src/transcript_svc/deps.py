"""FastAPI dependencies of transcript-svc's API (the shared ones are in voice_shared.deps)."""

from typing import Annotated

from transcript_svc.archive import Archive
from transcript_svc.downloads import DownloadLinks
from transcript_svc.settings import TranscriptSettings
from voice_shared.deps import from_state

ArchiveDep = Annotated[Archive, from_state("archive")]
DownloadLinksDep = Annotated[DownloadLinks, from_state("download_links")]
SettingsDep = Annotated[TranscriptSettings, from_state("settings")]
