"""Schemathesis over the gateway's OpenAPI: no input, valid or not, makes the platform answer 5xx.

The gateway and an in-process session-svc run on their own event loop in a thread, the gateway on
real HTTP at 127.0.0.1, so schemathesis' synchronous client can call it while pytest-asyncio's loop
is idle. Callers are an org admin of a fresh org, whose ids the generated requests mostly name.
"""

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from voice_shared.testing import auth, config_body, session_body

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25
FUZZ_ORG = uuid.uuid4()

# Loaded from the app object at collection (building it connects nothing); requests go to the
# served platform. Every request acts in the fuzzed org: another org's id is only ever a 404.
schema = schemathesis.openapi.from_dict(create_gateway(GatewaySettings(environment="test")).openapi())
schema.config.update(parameters={"orgId": str(FUZZ_ORG)})
schema.config.generation.update(max_examples=MAX_EXAMPLES)


class ServedPlatform(threading.Thread):
    """session-svc and the gateway in one thread with its own event loop; the gateway on a socket."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(name="fuzzed-platform", daemon=True)
        self.env = env
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server: uvicorn.Server | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as e:  # reported to the test thread, which is waiting on us
            self.error = e

    async def _serve(self) -> None:
        from analytics_svc.app import create_app as create_analytics_svc
        from analytics_svc.settings import AnalyticsSettings
        from bot_orchestrator.app import create_app as create_orchestrator
        from bot_orchestrator.settings import OrchestratorSettings
        from session_svc.app import create_app as create_session_svc
        from session_svc.erasure.transcripts import TranscriptErasure
        from session_svc.settings import SessionSettings
        from transcript_svc.app import create_app as create_transcript_svc
        from transcript_svc.settings import TranscriptSettings

        svc = create_session_svc(SessionSettings(**self.env, database_pool_size=4))  # type: ignore[arg-type]
        # The services' own failures reach the gateway as their 500 answers, as they would over HTTP.
        to_svc = httpx.ASGITransport(app=svc, raise_app_exceptions=False)
        async with (
            svc.router.lifespan_context(svc),
            httpx.AsyncClient(transport=to_svc, base_url="http://session-svc") as upstream,
        ):
            transcripts = create_transcript_svc(TranscriptSettings(**self.env, database_pool_size=4),  # type: ignore[arg-type]
                                                session_svc=upstream)
            to_transcripts = httpx.ASGITransport(app=transcripts, raise_app_exceptions=False)
            async with (
                transcripts.router.lifespan_context(transcripts),
                httpx.AsyncClient(transport=to_transcripts, base_url="http://transcript-svc") as transcript_upstream,
            ):
                svc.state.transcript_erasure = TranscriptErasure(transcript_upstream)  # erasures reach it too
                analytics = create_analytics_svc(AnalyticsSettings(**self.env, database_pool_size=4),  # type: ignore[arg-type]
                                                 session_svc=upstream, transcript_svc=transcript_upstream)
                to_analytics = httpx.ASGITransport(app=analytics, raise_app_exceptions=False)
                # The pool's API with an orchestrator that starts no bot.
                pool = create_orchestrator(OrchestratorSettings(**self.env, pool_backend="external",  # type: ignore[arg-type]
                                                                pool_min_idle=0, database_pool_size=2))
                to_pool = httpx.ASGITransport(app=pool, raise_app_exceptions=False)
                async with (
                    analytics.router.lifespan_context(analytics),
                    httpx.AsyncClient(transport=to_analytics, base_url="http://analytics-svc") as analytics_upstream,
                    pool.router.lifespan_context(pool),
                    httpx.AsyncClient(transport=to_pool, base_url="http://bot-orchestrator") as pool_upstream,
                ):
                    gateway = create_gateway(GatewaySettings(**self.env), upstreams={  # type: ignore[arg-type]
                        "session-svc": upstream, "transcript-svc": transcript_upstream,
                        "analytics-svc": analytics_upstream, "bot-orchestrator": pool_upstream})
                    self.server = uvicorn.Server(uvicorn.Config(gateway, log_level="warning"))
                    await self.server.serve(sockets=[self.sock])

    def wait_started(self, timeout: float = 30.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if self.error is not None:
                raise RuntimeError("the platform did not start") from self.error
            if self.server is not None and self.server.started:
                return
            threading.Event().wait(0.05)
        raise TimeoutError(f"the platform did not start in {timeout}s")

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.join(timeout=30)


@pytest.fixture(scope="module")
def platform_url(platform_env: dict[str, str], topology: None) -> Iterator[str]:
    platform = ServedPlatform(platform_env)
    platform.start()
    try:
        platform.wait_started()
        yield platform.url
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def fuzz_org(platform_url: str, token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The fuzzed org with one of everything, and the headers of its admin."""
    headers = auth(token(FUZZ_ORG, "org_admin", sub="fuzz-admin"))
    with httpx.Client(base_url=f"{platform_url}/api/voice", headers=headers,
                      params={"orgId": str(FUZZ_ORG)}) as c:

        def made(path: str, body: dict[str, Any]) -> str:
            r = c.post(path, json=body)
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

        config = made("/configs", config_body())
        kb = made("/kbs", {"name": "Handbook"})
        document = made(f"/kbs/{kb}/documents", {"filename": "a.md", "text": "# Scaling\nShard by tenant."})
        session = made("/sessions", session_body(config, kbIds=[kb]))
        share = made(f"/sessions/{session}/shares", {"userId": "someone", "level": "view"})
    ids = {"config_id": config, "kb_id": kb, "document_id": document, "session_id": session,
           "share_id": share}
    return {"headers": headers, "ids": ids}



@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_input_makes_a_server_error(
    case: schemathesis.Case, platform_url: str, fuzz_org: dict[str, Any]
) -> None:
    aim_at_real_resources(case, fuzz_org["ids"])
    case.call_and_validate(base_url=platform_url, headers=fuzz_org["headers"],
                           checks=[not_a_server_error], timeout=30)


def aim_at_real_resources(case: schemathesis.Case, ids: dict[str, str]) -> None:
    """Valid ids in the path name the fuzzed org's real rows, so bodies reach the database.

    Invalid ids stay as generated (the edge must refuse them); deletes keep their random ids, or the
    first DELETE would remove the rows every later operation aims at.
    """
    if case.method.upper() == "DELETE" or not case.path_parameters:
        return
    for name, value in list(case.path_parameters.items()):
        if name in ids and _is_uuid(value):
            case.path_parameters[name] = ids[name]


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
