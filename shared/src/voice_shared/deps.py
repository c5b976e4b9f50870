"""The FastAPI dependencies every service declares: its database, its outbox relay, and the
organisation and paging parameters of its routes."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query, Request

from voice_shared.db import SessionMaker
from voice_shared.outbox import OutboxRelay


async def _sessions(request: Request) -> SessionMaker:
    return request.app.state.sessions


async def _relay(request: Request) -> OutboxRelay:
    return request.app.state.relay


# Dependencies are async, even trivial ones: FastAPI runs a plain function in a worker thread.
DbDep = Annotated[SessionMaker, Depends(_sessions)]
RelayDep = Annotated[OutboxRelay, Depends(_relay)]
OrgIdQuery = Annotated[UUID, Query(alias="orgId", description="The organisation acted in.")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=200, description="`nextCursor` of the previous page.")]
