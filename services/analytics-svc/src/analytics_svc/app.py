"""analytics-svc: scores transcripts against the rubric (health and metrics so far)."""

from fastapi import FastAPI

from analytics_svc.settings import AnalyticsSettings
from voice_shared.http import create_service_app


def create_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    return create_service_app(settings or AnalyticsSettings(), title="analytics-svc (internal)")
