"""bot-orchestrator: the warm bot pool (health and metrics so far)."""

from fastapi import FastAPI

from bot_orchestrator.settings import OrchestratorSettings
from voice_shared.http import create_service_app


def create_app(settings: OrchestratorSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or OrchestratorSettings()
    return create_service_app(settings, title="bot-orchestrator (internal)")
