"""bot-orchestrator settings."""

from voice_shared.settings import ServiceSettings


class OrchestratorSettings(ServiceSettings):
    service_name: str = "bot-orchestrator"
    port: int = 8002
