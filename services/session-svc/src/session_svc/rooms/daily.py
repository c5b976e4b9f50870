"""Daily rooms over its REST API: private, expiring rooms and per-participant meeting tokens.

429 and 5xx answers, and calls that get no answer, are retried with exponential backoff and full
jitter (``Retry-After`` is honoured, within the cap); any other error is final and its message
says what Daily answered, so it can become the session's failure reason as it is.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import structlog

from session_svc.rooms.ports import (
    ProvisionedRoom,
    RoomProviderRefused,
    RoomProviderUnavailable,
    RoomSpec,
)

log = structlog.get_logger()

Sleep = Callable[[float], Awaitable[None]]


class DailyRooms:
    name = "daily"

    def __init__(
        self,
        api_url: str,
        api_key: str,
        client: httpx.AsyncClient,
        *,
        max_attempts: int = 4,
        backoff_seconds: float = 0.5,
        backoff_max_seconds: float = 8.0,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._api = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._client = client
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._backoff_max = backoff_max_seconds
        self._sleep = sleep
        self._jitter = jitter

    async def create_room(self, spec: RoomSpec) -> ProvisionedRoom:
        properties: dict[str, Any] = {
            "exp": int(spec.expires_at.timestamp()),
            "eject_at_room_exp": True,
            "max_participants": spec.max_participants,
            "enable_chat": False,
            "enable_screenshare": False,
            "start_video_off": True,
        }
        if spec.recording != "off":
            properties["enable_recording"] = spec.recording
        body = {"name": spec.name, "privacy": "private", "properties": properties}
        try:
            room = await self._call("POST", "/rooms", "create the room", body)
        except RoomProviderRefused as e:
            # A retried create whose first attempt reached Daily: the name is ours alone (it holds
            # the session id and the attempt), so the room that exists is the one we asked for.
            if "already exists" not in (e.details or {}).get("info", ""):
                raise
            room = await self._call("GET", f"/rooms/{spec.name}", "read the room")
        return ProvisionedRoom(name=room["name"], url=room["url"])

    async def meeting_token(
        self, room: str, *, owner: bool, user_name: str, expires_at: datetime, start_recording: bool = False
    ) -> str:
        properties: dict[str, Any] = {
            "room_name": room, "is_owner": owner, "user_name": user_name,
            "exp": int(expires_at.timestamp()),
        }
        if not owner:
            properties["eject_at_token_exp"] = True
        if start_recording:
            properties["start_cloud_recording"] = True
        answer = await self._call("POST", "/meeting-tokens", "create a meeting token", {"properties": properties})
        return str(answer["token"])

    async def delete_room(self, name: str) -> None:
        try:
            await self._call("DELETE", f"/rooms/{name}", "delete the room")
        except RoomProviderRefused as e:
            if (e.details or {}).get("status") != 404:
                raise

    # --- one call, retried -----------------------------------------------------------------------

    async def _call(self, method: str, path: str, action: str, body: Any = None) -> dict[str, Any]:
        last = ""
        for attempt in range(1, self._max_attempts + 1):
            retry_after: float | None = None
            try:
                answer = await self._client.request(method, self._api + path, json=body, headers=self._headers)
            except httpx.TransportError as e:
                last = f"no answer ({type(e).__name__})"
            else:
                if answer.is_success:
                    return answer.json() if answer.content else {}
                if answer.status_code != 429 and answer.status_code < 500:
                    raise self._refused(action, answer)
                last = f"{answer.status_code} {_error_of(answer)[0]}".rstrip()
                retry_after = _seconds(answer.headers.get("retry-after"))
            if attempt == self._max_attempts:
                break
            delay = self.delay(attempt, retry_after)
            log.warning("daily_call_retried", action=action, attempt=attempt, failure=last,
                        delay_seconds=round(delay, 3))
            await self._sleep(delay)
        raise RoomProviderUnavailable(
            f"Daily could not {action}: {last} after {self._max_attempts} attempts; try again later.",
            details={"provider": "daily", "action": action, "attempts": self._max_attempts, "last": last},
        )

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]; Retry-After when Daily sends one."""
        if retry_after is not None:
            return min(self._backoff_max, retry_after)
        return self._jitter() * min(self._backoff_max, self._backoff * 2 ** (attempt - 1))

    @staticmethod
    def _refused(action: str, answer: httpx.Response) -> RoomProviderRefused:
        error, info = _error_of(answer)
        hint = ""
        if answer.status_code in (401, 403):
            hint = " Check the organisation's Daily API key (credential service 'daily')."
        reason = f"{error}: {info}" if info else error
        return RoomProviderRefused(
            f"Daily refused to {action} ({answer.status_code} {reason}).{hint}",
            details={"provider": "daily", "action": action, "status": answer.status_code,
                     "error": error, "info": info},
        )


def _error_of(answer: httpx.Response) -> tuple[str, str]:
    """Daily's ``{"error", "info"}`` body, or the status phrase when it sent something else."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return str(body.get("error") or answer.reason_phrase)[:100], str(body.get("info") or "")[:300]
    return answer.reason_phrase, ""


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from an API; the backoff is used instead
