"""Factories for tests, benchmarks and the simulator: unique, valid request bodies."""

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import uvicorn


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def config_body(**overrides: Any) -> dict[str, Any]:
    """A valid interview config (camelCase, as a client sends it) with a unique name."""
    body: dict[str, Any] = {
        "name": f"Backend engineer {uuid.uuid4().hex[:8]}",
        "description": "Screening for a backend role",
        "botName": "Ada",
        "persona": "You are Ada, a friendly and rigorous technical interviewer.",
        "greeting": "Hello, I'm Ada. Thanks for joining; shall we begin?",
        "language": "en",
        "maxDurationMinutes": 20,
        "idleTimeoutSeconds": 20,
        "questions": [
            {
                "id": "intro",
                "text": "Tell me about a system you built recently.",
                "type": "behavioral",
                "competency": "communication",
                "timeLimitSeconds": 120,
                "followUp": {"enabled": True, "maxFollowUps": 1, "expectedItems": ["scale", "role"]},
            },
            {
                "id": "db",
                "text": "How would you index a table queried by tenant and date?",
                "type": "technical",
                "competency": "databases",
                "timeLimitSeconds": 180,
                "followUp": {"enabled": True, "maxFollowUps": 2, "expectedItems": ["composite index"]},
            },
        ],
        "rubric": {
            "criteria": [
                {"id": "communication", "name": "Communication", "weight": 1,
                 "description": "Clear and structured answers",
                 "levels": [{"score": 1, "description": "Hard to follow"},
                            {"score": 5, "description": "Crisp and complete"}]},
                {"id": "databases", "name": "Databases", "weight": 2,
                 "description": "Sound data modelling"},
            ]
        },
        "providers": {"transport": "local", "stt": {"provider": "whisper"},
                      "llm": {"provider": "scripted"}, "tts": {"provider": "piper"}},
    }
    body.update(overrides)
    return body


def session_body(config_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "configId": config_id,
        "interviewType": "technical",
        "candidateName": "Grace Hopper",
        "candidateEmail": f"grace-{uuid.uuid4().hex[:6]}@example.com",
        "metadata": {"source": "test"},
    }
    body.update(overrides)
    return body


def join_headers(join_url: str) -> dict[str, str]:
    """The candidate's credential: the join token at the end of their link, as a bearer."""
    path = urlsplit(join_url).path
    assert path.startswith("/join/"), join_url
    return auth(path.removeprefix("/join/"))


@asynccontextmanager
async def serving(app: Any, **options: Any) -> AsyncIterator[str]:
    """Serve an ASGI app over real HTTP on a free 127.0.0.1 port, in this event loop; yields its URL.
    ``options`` go to uvicorn (``ssl_certfile`` and ``ssl_keyfile`` make it HTTPS)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", **options))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"{'https' if 'ssl_certfile' in options else 'http'}://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
