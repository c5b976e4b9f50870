"""The FastAPI dependencies every service declares: its database, its outbox relay, and the
organisation and paging parameters of its routes."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query, Request

from voice_shared.db import SessionMaker
from voice_shared.outbox import OutboxRelay


def from_state(attribute: str) -> Any:
    """``Depends`` on what the app factory put in ``app.state.<attribute>``, e.g.
    ``Annotated[Archive, from_state("archive")]``."""

    # Async, though trivial: FastAPI runs a plain function in a worker thread.
    async def get(request: Request) -> Any:
        return getattr(request.app.state, attribute)

    return Depends(get)


DbDep = Annotated[SessionMaker, from_state("sessions")]
RelayDep = Annotated[OutboxRelay, from_state("relay")]
OrgIdQuery = Annotated[UUID, Query(alias="orgId", description="The organisation acted in.")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=200, description="`nextCursor` of the previous page.")]
