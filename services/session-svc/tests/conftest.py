"""session-svc's test fixtures: a fake of Daily's REST API on 127.0.0.1 that checks what it is sent.

``fake_daily`` keeps rooms and meeting tokens like Daily does, refuses malformed requests the way
Daily answers them (``{"error", "info"}``), and can be told to answer the next calls otherwise
(``fake_daily.script("POST", "rooms", fake_daily.answer(503, ...))``). One server per test module.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from voice_shared.testing import serving

FAKE_DAILY_KEY = "daily-test-key-0123"
ROOM_PROPERTIES = {"exp", "eject_at_room_exp", "max_participants", "enable_chat", "enable_screenshare",
                   "start_video_off", "enable_recording"}
TOKEN_PROPERTIES = {"room_name", "is_owner", "user_name", "exp", "eject_at_token_exp", "start_cloud_recording"}


@dataclass
class Call:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class Scripted:
    status: int  # 0: answer as usual, after ``delay``
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    then_serve: bool = False  # do the real work (e.g. create the room) and still answer this


class FakeDaily:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.calls: list[Call] = []
        self.rooms: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self._script: dict[tuple[str, str], list[Scripted]] = {}
        self.url = ""

    # --- what tests tell it -------------------------------------------------------------------

    @staticmethod
    def answer(status: int, body: Any = None, *, headers: dict[str, str] | None = None, delay: float = 0.0,
               then_serve: bool = False) -> Scripted:
        """A scripted answer; status 0 answers as usual after ``delay``."""
        return Scripted(status, body, headers or {}, delay, then_serve)

    def script(self, method: str, kind: str, *answers: Scripted) -> None:
        """Answer the next calls of ``method`` to ``kind`` ('rooms', 'room', 'meeting-tokens') so."""
        self._script.setdefault((method, kind), []).extend(answers)

    def of(self, method: str, kind: str, room: str | None = None) -> list[Call]:
        """Calls of ``method`` to ``kind``, only those about ``room`` when it is given."""
        return [c for c in self.calls if c.method == method and _kind(c.path) == kind
                and (room is None or room in (c.path.rsplit("/", 1)[-1], _named(c.body)))]

    def deleted(self, name: str) -> bool:
        return any(c.path == f"/v1/rooms/{name}" for c in self.of("DELETE", "room")) and name not in self.rooms

    # --- the API ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        raw = await request.body()
        body = json.loads(raw) if raw else None
        call = Call(request.method, request.url.path, request.headers.get("authorization"), body)
        self.calls.append(call)
        response = await self._answer(call)
        await response(scope, receive, send)

    async def _answer(self, call: Call) -> JSONResponse:
        if call.authorization != f"Bearer {self.api_key}":
            return _error(401, "authentication-error", "Invalid API key")
        queued = self._script.get((call.method, _kind(call.path)))
        if queued:
            scripted = queued.pop(0)
            await asyncio.sleep(scripted.delay)
            if scripted.status == 0:  # only slow: then answer as usual
                return self._serve(call)
            if scripted.then_serve:
                self._serve(call)
            return JSONResponse(scripted.body, status_code=scripted.status, headers=scripted.headers)
        return self._serve(call)

    def _serve(self, call: Call) -> JSONResponse:
        kind, name = _kind(call.path), call.path.rsplit("/", 1)[-1]
        if (call.method, kind) == ("POST", "rooms"):
            return self._create_room(call.body)
        if (call.method, kind) == ("GET", "room"):
            return JSONResponse(self.rooms[name]) if name in self.rooms else _error(404, "not-found", "room not found")
        if (call.method, kind) == ("DELETE", "room"):
            if self.rooms.pop(name, None) is None:
                return _error(404, "not-found", f"room {name} was not found")
            return JSONResponse({"deleted": True, "name": name})
        if (call.method, kind) == ("POST", "meeting-tokens"):
            return self._create_token(call.body)
        return _error(404, "not-found", "no such endpoint")

    def _create_room(self, body: Any) -> JSONResponse:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return _error(400, "invalid-request-error", "name must be a string")
        props = body.get("properties", {})
        if body.get("privacy") not in ("public", "private"):
            return _error(400, "invalid-request-error", "privacy must be public or private")
        if set(props) - ROOM_PROPERTIES:
            return _error(400, "invalid-request-error", f"unknown properties {sorted(set(props) - ROOM_PROPERTIES)}")
        if not isinstance(props.get("exp"), int) or props["exp"] <= time.time():
            return _error(400, "invalid-request-error", "exp must be a unix time in the future")
        if props.get("enable_recording") not in (None, "cloud", "local", "raw-tracks"):
            return _error(400, "invalid-request-error", "enable_recording is invalid")
        name = body["name"]
        if name in self.rooms:
            return _error(400, "invalid-request-error", f"a room named {name} already exists")
        self.rooms[name] = {"id": f"id-{len(self.rooms)}", "name": name, "privacy": body["privacy"],
                            "url": f"https://fake.daily.co/{name}", "config": props}
        return JSONResponse(self.rooms[name])

    def _create_token(self, body: Any) -> JSONResponse:
        props = (body or {}).get("properties", {})
        if set(props) - TOKEN_PROPERTIES or props.get("room_name") not in self.rooms:
            return _error(400, "invalid-request-error", "bad token properties or unknown room")
        token = f"token-{len(self.tokens) + 1}"
        self.tokens[token] = props
        return JSONResponse({"token": token})


def _kind(path: str) -> str:
    parts = path.strip("/").split("/")  # v1, rooms[, name] | v1, meeting-tokens
    if parts[1:2] == ["rooms"]:
        return "room" if len(parts) > 2 else "rooms"
    return parts[1] if len(parts) > 1 else ""


def _named(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    return body.get("name") or (body.get("properties") or {}).get("room_name")


def _error(status: int, error: str, info: str) -> JSONResponse:
    return JSONResponse({"error": error, "info": info}, status_code=status)




@pytest.fixture(scope="module")
async def fake_daily() -> AsyncIterator[FakeDaily]:
    """A fake Daily API that accepts the key ``FAKE_DAILY_KEY``; its ``url`` is the API's base."""
    daily = FakeDaily(FAKE_DAILY_KEY)
    async with serving(daily) as url:
        daily.url = url
        yield daily
