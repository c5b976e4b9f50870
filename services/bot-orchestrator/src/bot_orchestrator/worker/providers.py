"""The speech services a session's config chooses: the embedded ones, or Deepgram and Cartesia with the org's keys.

``choose_speech`` runs once per job, before any room is served: it checks what the config asks for,
fetches the keys, and returns factories. The pipeline calls them for fresh services each time it is
built (a candidate who rejoins gets a new pipeline, and a Pipecat service belongs to one pipeline).

Config options (``providers.stt.options`` / ``providers.tts.options``):

- ``deepgram``: ``model`` (default ``nova-3-general``).
- ``cartesia``: ``voiceId`` (required: Cartesia has no default voice), ``model`` (default Pipecat's),
  ``speed`` (0.6-1.5), ``volume`` (0.5-2.0), ``emotion``.

Both are ``voice_shared.api.configs`` models, checked when the config is saved and again here for
versions saved before that check.

Both speak the session's language. Audio rates are the pipeline's: 16 kHz in, 24 kHz out.
"""

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.cartesia.tts import CartesiaTTSService, GenerationConfig
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.tts_service import TTSService
from pipecat.transcriptions.language import Language

from bot_orchestrator.worker.models import Models
from bot_orchestrator.worker.pipeline import AUDIO_IN_SAMPLE_RATE, AUDIO_OUT_SAMPLE_RATE
from bot_orchestrator.worker.settings import BotSettings
from bot_orchestrator.worker.speech import stt_service, tts_service, voice_for
from voice_shared.api.configs import CartesiaOptions, DeepgramOptions, InterviewDefinition, provider_options

CARTESIA_WEBSOCKET_PATH = "/tts/websocket"
LABELS = {"deepgram": "Deepgram", "cartesia": "Cartesia"}

Credential = Callable[[str], Awaitable[str | None]]  # service name → the org's key, None if it has none


@dataclass(frozen=True)
class Speech:
    """How one session listens and speaks; each call of ``stt``/``tts`` makes a new service."""

    stt_provider: str
    tts_provider: str  # the voice that will speak (a local voice may stand in for the other)
    stt: Callable[[], FrameProcessor]
    tts: Callable[[], TTSService]
    # Synthesise a line ahead (the greeting, while the bot waits), for the voices that can.
    prepare: Callable[[str], Coroutine[Any, Any, None]] | None = None


async def choose_speech(
    definition: InterviewDefinition, models: Models, settings: BotSettings, credential: Credential
) -> Speech | str:
    """The session's speech services; the reason, in words, if this worker cannot provide them."""
    stt_choice, tts_choice = definition.providers.stt, definition.providers.tts
    language = definition.language

    make_stt: Callable[[], FrameProcessor]
    if stt_choice.provider == "whisper":
        make_stt = partial(stt_service, models, settings.whisper_beam_size)
    elif stt_choice.provider == "deepgram":
        key = await credential("deepgram")
        if key is None:
            return missing_key("speech-to-text", "deepgram")
        try:  # checked when the config was saved; a version saved before that check may not fit
            deepgram = provider_options(DeepgramOptions, "deepgram", stt_choice.options)
        except ValueError as e:
            return f"invalid_stt_options: {e}"
        make_stt = deepgram_factory(key, settings.deepgram_url, deepgram, language)
    else:  # the config's schema allows no other; a newer one may
        return f"unsupported_stt: this bot worker has no speech-to-text {stt_choice.provider!r}"

    make_tts: Callable[[], TTSService]
    tts_provider: str = tts_choice.provider
    if tts_provider == "cartesia":
        try:  # checked when the config was saved; a version saved before that check may not fit
            cartesia = provider_options(CartesiaOptions, "cartesia", tts_choice.options)
        except ValueError as e:
            return f"invalid_tts_options: {e}"
        key = await credential("cartesia")
        if key is None:
            return missing_key("text-to-speech", "cartesia")
        make_tts = cartesia_factory(key, settings.cartesia_url, cartesia, language)
    else:
        voice = voice_for(models, tts_provider)
        if voice is None:
            return (f"unsupported_tts: no voice for {tts_provider} in this bot worker "
                    f"(it has: {', '.join(models.voices) or 'none'})")
        make_tts = partial(tts_service, models, tts_provider)
        prepare = partial(models.lines.prepare, models.piper) if voice == "piper" else None
        return Speech(stt_choice.provider, voice, make_stt, make_tts, prepare)
    return Speech(stt_choice.provider, tts_provider, make_stt, make_tts)


def missing_key(role: str, provider: str) -> str:
    return (f"credential_missing: the config's {role} is {provider!r} but the organisation has no "
            f"{LABELS[provider]} key")


def deepgram_factory(
    api_key: str, base_url: str, options: DeepgramOptions, language: str
) -> Callable[[], FrameProcessor]:
    """Deepgram's live transcription (websocket ``<base_url>/v1/listen``), linear16 at 16 kHz."""
    settings: dict[str, Any] = {"language": pipecat_language(language)}
    if options.model:
        settings["model"] = options.model

    def make() -> DeepgramSTTService:
        return DeepgramSTTService(
            api_key=api_key, base_url=base_url.rstrip("/"), sample_rate=AUDIO_IN_SAMPLE_RATE,
            settings=DeepgramSTTService.Settings(**settings),
        )

    return make


def cartesia_factory(
    api_key: str, base_url: str, options: CartesiaOptions, language: str
) -> Callable[[], TTSService]:
    """Cartesia's websocket TTS (``<base_url>/tts/websocket``), raw 16-bit PCM at 24 kHz."""
    settings: dict[str, Any] = {"voice": options.voice_id, "language": pipecat_language(language)}
    if options.model:
        settings["model"] = options.model
    generation = options.model_dump(include={"speed", "volume", "emotion"}, exclude_none=True)
    if generation:
        settings["generation_config"] = GenerationConfig(**generation)
    url = websocket_url(base_url) + CARTESIA_WEBSOCKET_PATH

    def make() -> CartesiaTTSService:
        return CartesiaTTSService(
            api_key=api_key, url=url, sample_rate=AUDIO_OUT_SAMPLE_RATE,
            settings=CartesiaTTSService.Settings(**settings),
        )

    return make


def pipecat_language(language: str) -> Language | str:
    """The config's language (``en``, ``en-US``) as Pipecat's enum, which each service maps to its own code."""
    try:
        return Language(language)
    except ValueError:
        return language


def websocket_url(base_url: str) -> str:
    """``https://`` → ``wss://`` and ``http://`` → ``ws://``, so either form of a base URL works."""
    base = base_url.rstrip("/")
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base.startswith(http):
            return ws + base.removeprefix(http)
    return base
