"""FastAPI dependencies of session-svc's own (the shared ones are in voice_shared.deps)."""

from typing import Annotated

from session_svc.settings import SessionSettings
from voice_shared.deps import from_state

SettingsDep = Annotated[SessionSettings, from_state("settings")]
