"""transcript-svc: stores session transcripts (health and metrics so far)."""

from fastapi import FastAPI

from transcript_svc.settings import TranscriptSettings
from voice_shared.http import create_service_app


def create_app(settings: TranscriptSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    return create_service_app(settings or TranscriptSettings(), title="transcript-svc (internal)")
