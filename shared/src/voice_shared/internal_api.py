"""The internal APIs services call each other with: session-svc's (a session's plan, its room, KB
search, provider keys), transcript-svc's (the transcript so far, or as finalised) and the
orchestrator's (a dispatched session's place in the queue).

A caller uses its own service identity (``service: bot``, ``service: analytics``), never a user's token.
"""

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Self
from uuid import UUID

import httpx
import structlog

from voice_shared.api.bot import InvitedGreetings, SessionPlan
from voice_shared.api.pool import QueuePlace
from voice_shared.api.rooms import RoomAccess
from voice_shared.api.transcripts import SessionSegments, TranscriptPublic
from voice_shared.auth import mint_dev_token
from voice_shared.settings import ServiceSettings

log = structlog.get_logger()

RETRY_DELAYS = (0.5, 1.0, 2.0)  # a restarting service is back within seconds


class ServiceApiError(Exception):
    """A service could not be asked (after retries) or refused unexpectedly."""


def token_source(settings: ServiceSettings, sub: str, service: str) -> Callable[[], str]:
    """The configured service token, else a short-lived one signed with the development secret."""
    if settings.service_token is not None:
        fixed = settings.service_token.get_secret_value()
        return lambda: fixed
    return lambda: mint_dev_token(settings, sub, service=service, ttl_seconds=300)


class ServiceApi:
    """One service's internal API: requests with the caller's identity, retried while it restarts."""

    service = "service"

    def __init__(self, http: httpx.AsyncClient, token: Callable[[], str]) -> None:
        self._http = http
        self._token = token

    @classmethod
    def connect(cls, base_url: str, settings: ServiceSettings, token: Callable[[], str]) -> Self:
        http = httpx.AsyncClient(base_url=base_url, timeout=settings.http_timeout_seconds, trust_env=False)
        return cls(http, token)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, url: str, *, retries: bool = True, **kwargs: Any) -> httpx.Response:
        delays = RETRY_DELAYS if retries else ()
        for attempt in range(len(delays) + 1):
            try:
                answer = await self._http.request(
                    method, url, headers={"Authorization": f"Bearer {self._token()}"}, **kwargs
                )
                if answer.status_code < 500 or attempt == len(delays):
                    return answer
            except httpx.TransportError as e:
                if attempt == len(delays):
                    raise ServiceApiError(f"{self.service} did not answer {method} {url}: {type(e).__name__}") from e
            log.warning("service_retry", service=self.service, url=url, attempt=attempt + 1)
            await asyncio.sleep(delays[attempt])
        raise AssertionError("unreachable")

    def _check(self, answer: httpx.Response, what: str) -> None:
        if answer.status_code != 200:
            raise ServiceApiError(f"{self.service} answered {answer.status_code} to the {what} request")


class SessionApi(ServiceApi):
    service = "session-svc"

    async def plan(self, org_id: UUID, session_id: UUID) -> SessionPlan | None:
        """The session's plan; None if it does not exist (any more) in the org."""
        answer = await self._request("GET", f"/internal/sessions/{session_id}/plan", params={"orgId": str(org_id)})
        if answer.status_code == 404:
            return None
        self._check(answer, "plan")
        return SessionPlan.model_validate(answer.json())

    async def invited_greetings(self) -> list[str]:
        """The greetings of sessions waiting for their candidate's Start, newest invitations first."""
        answer = await self._request("GET", "/internal/sessions/invited-greetings", retries=False)
        self._check(answer, "invited_greetings")
        return InvitedGreetings.model_validate(answer.json()).greetings

    async def room(self, org_id: UUID, session_id: UUID) -> RoomAccess | None:
        """The session's live room and the bot's (owner) meeting token; None if it has none (not started, or over)."""
        answer = await self._request("GET", f"/internal/sessions/{session_id}/room", params={"orgId": str(org_id)})
        if answer.status_code == 404:
            return None
        self._check(answer, "room")
        return RoomAccess.model_validate(answer.json())

    async def search(self, org_id: UUID, kb_ids: Sequence[UUID], query: str, k: int) -> list[dict[str, Any]]:
        """The knowledge bases' best ``k`` hits for ``query`` (chunkId, text, filename)."""
        body = {"orgId": str(org_id), "kbIds": [str(i) for i in kb_ids], "query": query, "k": k}
        answer = await self._request("POST", "/internal/kb/search", json=body, retries=False)
        self._check(answer, "kb_search")
        hits: list[dict[str, Any]] = answer.json()["hits"]
        return hits

    async def credential(self, org_id: UUID, service: str) -> str | None:
        """The org's (else the platform's) key for a provider; None if there is none."""
        answer = await self._request("GET", f"/internal/credentials/{service}", params={"orgId": str(org_id)})
        if answer.status_code == 409 and _error_code(answer) == "credential_missing":
            return None
        self._check(answer, "credential")
        secret: str = answer.json()["secret"]
        return secret


class TranscriptApi(ServiceApi):
    service = "transcript-svc"

    async def segments(self, org_id: UUID, session_id: UUID) -> SessionSegments:
        """What transcript-svc has stored of the session's transcript, in order."""
        answer = await self._request("GET", f"/internal/sessions/{session_id}/segments", params={"orgId": str(org_id)})
        self._check(answer, "segments")
        return SessionSegments.model_validate(answer.json())

    async def transcript(self, org_id: UUID, session_id: UUID) -> TranscriptPublic | None:
        """The session's final transcript, its revision and segments read together; None if it has none."""
        answer = await self._request("GET", f"/internal/sessions/{session_id}/transcript",
                                     params={"orgId": str(org_id)})
        if answer.status_code == 404:
            return None
        self._check(answer, "transcript")
        return TranscriptPublic.model_validate(answer.json())


class PoolApi(ServiceApi):
    service = "bot-orchestrator"

    async def queue_place(self, org_id: UUID, session_id: UUID) -> QueuePlace | None:
        """Where the dispatched session waits for a bot; None once a bot has it (or it never waited)."""
        answer = await self._request("GET", f"/internal/queue/{session_id}", params={"orgId": str(org_id)},
                                     retries=False)
        if answer.status_code == 404:
            return None
        self._check(answer, "queue")
        return QueuePlace.model_validate(answer.json())


def _error_code(answer: httpx.Response) -> str | None:
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None
