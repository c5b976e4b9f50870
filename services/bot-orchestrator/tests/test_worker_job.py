"""What a job does before any room is served: drop what is not its to run, refuse what it cannot run.

No I/O: session-svc is a fake that hands out a plan, events are collected as published. Refusals come
at once, as a failed ``bot.finished`` whose reason says what is missing (never a wait that times out).
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from bot_orchestrator.worker.job import InterviewJob, WorkerContext
from bot_orchestrator.worker.models import Models
from bot_orchestrator.worker.settings import BotSettings
from voice_shared.api.bot import SessionPlan
from voice_shared.api.configs import InterviewDefinition
from voice_shared.contracts import BotFinished, Envelope, SessionDispatched, SessionStatus, envelope
from voice_shared.testing import config_body

ORG, SESSION, CONFIG = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


class FakeSessionApi:
    def __init__(self, plan: SessionPlan | None, credentials: dict[str, str] | None = None) -> None:
        self._plan = plan
        self._credentials = credentials or {}
        self.asked: list[str] = []

    async def plan(self, org_id: uuid.UUID, session_id: uuid.UUID) -> SessionPlan | None:
        self.asked.append("plan")
        return self._plan

    async def credential(self, org_id: uuid.UUID, service: str) -> str | None:
        self.asked.append(f"credential:{service}")
        return self._credentials.get(service)


def plan(status: SessionStatus = SessionStatus.ready, **changes: Any) -> SessionPlan:
    body = {k: v for k, v in config_body(**changes).items() if k not in ("name", "description")}
    return SessionPlan(session_id=SESSION, org_id=ORG, status=status, config_id=CONFIG, config_version=1,
                       definition=InterviewDefinition.model_validate(body))


async def run_job(session_plan: SessionPlan | None, voices: tuple[str, ...] = ("piper",)) -> tuple[
    Any, list[Envelope], FakeSessionApi
]:
    published: list[Envelope] = []

    async def publish(env: Envelope) -> None:
        published.append(env)

    api = FakeSessionApi(session_plan)
    models = Models(whisper=None, whisper_path="", piper=object() if "piper" in voices else None,
                    espeak="/usr/bin/espeak-ng" if "espeak" in voices else None)
    ctx = WorkerContext(BotSettings(environment="test"), models, broker=None, session_api=api,  # type: ignore[arg-type]
                        transcript_api=None, publish=publish, bot_id="bot-unit")
    started = SessionDispatched(session_id=SESSION, config_id=CONFIG, config_version=1, transport="local",
                                dispatched_by="user-1")
    job = envelope(started, org_id=ORG, session_id=SESSION, correlation_id="corr-9",
                   occurred_at=datetime.now(UTC))
    result = await InterviewJob(ctx, started, job).run()
    return result, published, api


@pytest.mark.parametrize("status", [SessionStatus.pending, SessionStatus.completed, SessionStatus.cancelled])
async def test_a_session_that_is_not_ready_or_active_is_dropped_without_a_word(status: SessionStatus) -> None:
    result, published, _ = await run_job(plan(status))

    assert (result.outcome, result.reason) == ("skipped", f"session_{status}")
    assert published == []


async def test_a_session_that_no_longer_exists_is_dropped() -> None:
    result, published, _ = await run_job(None)

    assert (result.outcome, result.reason) == ("skipped", "session_not_found") and published == []


@pytest.mark.parametrize(("changes", "voices", "reason"), [
    ({"language": "de"}, ("piper",), "unsupported_language: the bundled speech models speak English only"),
    ({"providers": {"stt": {"provider": "deepgram"}}}, ("piper",),
     "credential_missing: the config's speech-to-text is 'deepgram' but the organisation has no Deepgram key"),
    ({"providers": {"tts": {"provider": "piper"}}}, (), "unsupported_tts: no voice for piper in this bot worker "
                                                         "(it has: none)"),
    ({"providers": {"llm": {"provider": "openai", "options": {"model": "gpt-4o-mini"}}}}, ("piper",),
     "credential_missing: the config's LLM is 'openai'"),
])
async def test_a_session_the_worker_cannot_run_fails_at_once_saying_why(
    changes: dict[str, Any], voices: tuple[str, ...], reason: str
) -> None:
    result, published, _ = await run_job(plan(**changes), voices)

    assert result.outcome == "failed" and result.reason.startswith(reason), result.reason
    [finished] = published
    assert finished.type == "bot.finished" and (finished.org_id, finished.session_id) == (ORG, SESSION)
    assert finished.correlation_id == "corr-9"
    payload = BotFinished.model_validate(finished.payload)
    assert (payload.outcome, payload.reason, payload.bot_id) == ("failed", result.reason, "bot-unit")
    assert payload.questions_asked == 0 and payload.latency_p50_ms is None


async def test_a_crash_after_the_bot_took_the_session_still_ends_it_with_a_reason() -> None:
    # Everything checks out (espeak stands in for piper), so the job serves the room: with no broker
    # to serve it on, it crashes there; the session must not be left waiting for a bot that is gone.
    result, published, _ = await run_job(plan(providers={"tts": {"provider": "piper"}}), ("espeak",))

    assert (result.outcome, result.reason) == ("failed", "bot_error: AttributeError")
    assert [e.type for e in published] == ["bot.finished"]
