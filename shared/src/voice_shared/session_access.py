"""Who may read a session's transcript or analytics: session-svc decides (it owns sessions, assignees and shares).

It is asked with the caller's own token, so it applies the same rules as to the session itself.
"""

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

import httpx
import structlog
from fastapi import Depends, Request

from voice_shared.api.access import Access
from voice_shared.api.transcripts import SessionAccess
from voice_shared.auth import Principal, PrincipalDep, bearer_token
from voice_shared.deps import from_state
from voice_shared.errors import ServiceUnavailable

log = structlog.get_logger()


class AccessUnavailable(ServiceUnavailable):
    code = "dependency_unavailable"


class SessionAccessClient:
    """session-svc's ``/internal/sessions/{id}/access`` over a pooled client (the app closes it)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def of(self, authorization: str, org_id: UUID, session_id: UUID, correlation_id: str) -> Access | None:
        """The caller's access to the session; None if it does not exist for them."""
        found = await self.session(authorization, org_id, session_id, correlation_id)
        return found.access if found else None

    async def session(
        self, authorization: str, org_id: UUID, session_id: UUID, correlation_id: str
    ) -> SessionAccess | None:
        """The caller's access to the session and its status; None if it does not exist for them."""
        try:
            answer = await self.client.get(
                f"/internal/sessions/{session_id}/access", params={"orgId": str(org_id)},
                headers={"Authorization": authorization, "X-Correlation-ID": correlation_id},
            )
        except httpx.TransportError as e:
            log.warning("session_access_unavailable", error=f"{type(e).__name__}: {e}")
            raise AccessUnavailable("session-svc, which decides who may read transcripts, did not "
                                    "answer; try again shortly.", details={"upstream": "session-svc"}) from e
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            log.warning("session_access_refused", status=answer.status_code)
            raise AccessUnavailable("session-svc could not say who may read this transcript.",
                                    details={"upstream": "session-svc", "status": answer.status_code})
        return SessionAccess.model_validate(answer.json())


@dataclass(frozen=True)
class Caller:
    """Who asks, with the token session-svc is asked with about their access."""

    principal: Principal
    authorization: str
    correlation_id: str


async def _caller(request: Request, principal: PrincipalDep) -> Caller:
    return Caller(principal, f"Bearer {bearer_token(request)}", str(request.state.correlation_id))


CallerDep = Annotated[Caller, Depends(_caller)]
SessionAccessDep = Annotated[SessionAccessClient, from_state("session_access")]
