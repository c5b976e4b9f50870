"""FastAPI dependencies of transcript-svc's internal API."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query, Request

from voice_shared.db import SessionMaker


async def get_sessions(request: Request) -> SessionMaker:
    return request.app.state.sessions


DbDep = Annotated[SessionMaker, Depends(get_sessions)]
OrgIdQuery = Annotated[UUID, Query(alias="orgId", description="The organisation acted in.")]
