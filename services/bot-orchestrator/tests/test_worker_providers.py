"""Which speech services a job chooses from its config, and the keys it needs for them.

No network: services are built but never started (``test_pipeline_cloud_speech.py`` runs them against
fake servers). The job-level tests run ``InterviewJob`` with a fake session-svc that hands out the plan
and the organisation's keys: a missing key fails the session at once, saying which.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pipecat.services.cartesia.tts import CartesiaTTSService
from pipecat.services.deepgram.stt import DeepgramSTTService

from bot_orchestrator.worker.job import InterviewJob, WorkerContext
from bot_orchestrator.worker.models import Models
from bot_orchestrator.worker.providers import Speech, choose_speech
from bot_orchestrator.worker.settings import BotSettings
from bot_orchestrator.worker.speech import EspeakTTSService, LoadedPiperTTSService, LoadedWhisperSTTService
from voice_shared.api.bot import SessionPlan
from voice_shared.api.configs import InterviewDefinition
from voice_shared.contracts import BotFinished, SessionDispatched, SessionStatus, envelope
from voice_shared.testing import config_body

ORG, CONFIG = uuid.uuid4(), uuid.uuid4()
KEYS = {"deepgram": "dg-key", "cartesia": "car-key"}
CLOUD = {"stt": {"provider": "deepgram", "options": {"model": "nova-3-phonecall"}},
         "tts": {"provider": "cartesia", "options": {"voiceId": "voice-1", "model": "sonic-2"}}}


def definition(providers: dict[str, Any] | None = None, **changes: Any) -> InterviewDefinition:
    body = {k: v for k, v in config_body(**changes).items() if k not in ("name", "description")}
    if providers is not None:
        body["providers"] = providers
    return InterviewDefinition.model_validate(body)


def models(*voices: str) -> Models:
    return Models(whisper=None, whisper_path="/models/tiny.en", piper=object() if "piper" in voices else None,
                  piper_name="joe", espeak="/usr/bin/espeak-ng" if "espeak" in voices else None)


class Keys:
    """The organisation's keys, as session-svc hands them out; remembers what was asked."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys, self.asked = keys, []

    async def __call__(self, service: str) -> str | None:
        self.asked.append(service)
        return self.keys.get(service)


async def choose(providers: dict[str, Any] | None, keys: dict[str, str], voices: tuple[str, ...] = ("piper",),
                 **settings: Any) -> tuple[Speech | str, Keys]:
    given = Keys(keys)
    return await choose_speech(definition(providers), models(*voices), BotSettings(environment="test", **settings),
                               given), given


async def test_the_embedded_defaults_need_no_key() -> None:
    speech, keys = await choose(None, {})

    assert isinstance(speech, Speech) and (speech.stt_provider, speech.tts_provider) == ("whisper", "piper")
    assert isinstance(speech.stt(), LoadedWhisperSTTService) and isinstance(speech.tts(), LoadedPiperTTSService)
    assert keys.asked == []


async def test_a_local_voice_stands_in_for_the_other() -> None:
    speech, _ = await choose({"tts": {"provider": "piper"}}, {}, voices=("espeak",))

    assert isinstance(speech, Speech) and speech.tts_provider == "espeak"
    assert isinstance(speech.tts(), EspeakTTSService)


async def test_deepgram_and_cartesia_with_the_orgs_keys_and_a_fresh_service_per_pipeline() -> None:
    speech, keys = await choose(CLOUD, KEYS, deepgram_url="ws://127.0.0.1:1", cartesia_url="ws://127.0.0.1:2")

    assert isinstance(speech, Speech) and (speech.stt_provider, speech.tts_provider) == ("deepgram", "cartesia")
    assert keys.asked == ["deepgram", "cartesia"]
    first_stt, second_stt = speech.stt(), speech.stt()
    assert isinstance(first_stt, DeepgramSTTService) and first_stt is not second_stt
    first_tts, second_tts = speech.tts(), speech.tts()
    assert isinstance(first_tts, CartesiaTTSService) and first_tts is not second_tts
    # The config's options reach the services' settings.
    assert (first_stt.settings.model, first_tts.settings.model, first_tts.settings.voice) == (
        "nova-3-phonecall", "sonic-2", "voice-1")


async def test_cloud_providers_can_be_mixed_with_the_embedded_ones() -> None:
    speech, keys = await choose({"stt": {"provider": "whisper"}, "tts": CLOUD["tts"]}, KEYS)

    assert isinstance(speech, Speech) and (speech.stt_provider, speech.tts_provider) == ("whisper", "cartesia")
    assert keys.asked == ["cartesia"]


@pytest.mark.parametrize(("providers", "keys", "reason"), [
    (CLOUD, {"cartesia": "k"},
     "credential_missing: the config's speech-to-text is 'deepgram' but the organisation has no Deepgram key"),
    (CLOUD, {"deepgram": "k"},
     "credential_missing: the config's text-to-speech is 'cartesia' but the organisation has no Cartesia key"),
    ({"tts": {"provider": "espeak"}}, {}, "unsupported_tts: no voice for espeak in this bot worker (it has: none)"),
])
async def test_what_cannot_be_provided_is_said_in_words(
    providers: dict[str, Any], keys: dict[str, str], reason: str
) -> None:
    speech, _ = await choose(providers, keys, voices=() if "espeak" in str(providers) else ("piper",))

    assert speech == reason


@pytest.mark.parametrize(("options", "reason"), [
    ({}, "invalid_tts_options: provider 'cartesia' options: voiceId: Field required"),
    ({"voiceId": "v", "speed": 3}, "invalid_tts_options: provider 'cartesia' options: speed: Input should be "
                                   "less than or equal to 1.5"),
])
async def test_a_cartesia_voice_saved_before_options_were_checked_fails_saying_why(
    options: dict[str, Any], reason: str
) -> None:
    plan = definition(CLOUD)
    plan.providers.tts.options = options  # a config version stored before saving checked the options

    speech = await choose_speech(plan, models("piper"), BotSettings(environment="test"), Keys(KEYS))

    assert speech == reason


# --- in the job ---------------------------------------------------------------------------------------


class FakeSessionApi:
    def __init__(self, plan: SessionPlan, credentials: dict[str, str]) -> None:
        self._plan, self._credentials = plan, credentials
        self.asked: list[str] = []

    async def plan(self, org_id: uuid.UUID, session_id: uuid.UUID) -> SessionPlan | None:
        self.asked.append("plan")
        return self._plan

    async def credential(self, org_id: uuid.UUID, service: str) -> str | None:
        assert org_id == ORG
        self.asked.append(f"credential:{service}")
        return self._credentials.get(service)


async def run_job(providers: dict[str, Any], credentials: dict[str, str]) -> tuple[Any, list[Any], FakeSessionApi]:
    session_id = uuid.uuid4()
    plan = SessionPlan(session_id=session_id, org_id=ORG, status=SessionStatus.ready, config_id=CONFIG,
                       config_version=1, definition=definition(providers))
    published: list[Any] = []

    async def publish(env: Any) -> None:
        published.append(env)

    api = FakeSessionApi(plan, credentials)
    ctx = WorkerContext(BotSettings(environment="test"), models("piper"), broker=None,  # type: ignore[arg-type]
                        session_api=api, transcript_api=None, publish=publish,  # type: ignore[arg-type]
                        bot_id="bot-unit")
    started = SessionDispatched(session_id=session_id, config_id=CONFIG, config_version=1, transport="local",
                                dispatched_by="user-1")
    env = envelope(started, org_id=ORG, session_id=session_id, correlation_id="corr-1", occurred_at=datetime.now(UTC))
    return await InterviewJob(ctx, started, env).run(), published, api


@pytest.mark.parametrize(("credentials", "reason"), [
    ({}, "credential_missing: the config's speech-to-text is 'deepgram' but the organisation has no Deepgram key"),
    ({"deepgram": "k"},
     "credential_missing: the config's text-to-speech is 'cartesia' but the organisation has no Cartesia key"),
])
async def test_a_session_whose_org_has_no_key_fails_at_once_saying_which(
    credentials: dict[str, str], reason: str
) -> None:
    result, published, _ = await run_job(CLOUD, credentials)

    assert (result.outcome, result.reason) == ("failed", reason)
    [finished] = published
    assert finished.type == "bot.finished" and BotFinished.model_validate(finished.payload).reason == reason


async def test_a_session_with_the_keys_is_taken_on() -> None:
    # Past _prepare the job serves the room; with no broker to serve it on it crashes there, which
    # shows the providers were accepted (the room itself is test_worker_interview.py's).
    result, published, api = await run_job(CLOUD, KEYS)

    assert (result.outcome, result.reason) == ("failed", "bot_error: AttributeError")
    assert api.asked == ["plan", "credential:deepgram", "credential:cartesia"]
    assert [e.type for e in published] == ["bot.finished"]
