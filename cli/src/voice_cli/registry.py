"""The platform's services: the one list that `voice db setup` and `voice run` walk."""

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path


@dataclass(frozen=True)
class Service:
    """One service process: its package, default port and, if it owns tables, its schema."""

    name: str
    package: str
    default_port: int
    schema: str | None = None
    public: bool = False

    @property
    def factory(self) -> str:
        return f"{self.package}.app:create_app"

    @property
    def env_prefix(self) -> str:
        """``VOICE_SESSION_SVC`` for session-svc: ``<prefix>_PORT`` and ``<prefix>_URL``."""
        return "VOICE_" + self.name.upper().replace("-", "_")

    def port(self, env: Mapping[str, str]) -> int:
        return int(env.get(f"{self.env_prefix}_PORT", self.default_port))

    def migrations_dir(self) -> Path:
        """``services/<name>/migrations``, beside the package's ``src`` folder."""
        spec = find_spec(self.package)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{self.package} is not installed; run `make install`")
        return Path(spec.origin).resolve().parents[2] / "migrations"


SERVICES: tuple[Service, ...] = (
    Service("gateway", "gateway", 8000, public=True),
    Service("session-svc", "session_svc", 8001, schema="session_svc"),
    Service("bot-orchestrator", "bot_orchestrator", 8002, schema="bot_orchestrator"),
    Service("transcript-svc", "transcript_svc", 8003, schema="transcript_svc"),
    Service("analytics-svc", "analytics_svc", 8004, schema="analytics_svc"),
)


def with_schema() -> list[Service]:
    return [s for s in SERVICES if s.schema]
