"""FastAPI dependencies of session-svc's own (the shared ones are in voice_shared.deps)."""

from typing import Annotated

from fastapi import Depends, Request

from session_svc.settings import SessionSettings


async def get_settings(request: Request) -> SessionSettings:
    return request.app.state.settings


SettingsDep = Annotated[SessionSettings, Depends(get_settings)]
