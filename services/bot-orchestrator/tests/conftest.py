"""Fixtures of the bot worker's tests: the embedded models (loaded once per run) and speech to feed it."""

from collections.abc import Callable

import numpy as np
import pytest

from bot_orchestrator.worker.models import Models, load_models
from bot_orchestrator.worker.settings import BotSettings

Speak = Callable[[str, int], bytes]


@pytest.fixture(scope="session")
def models() -> Models:
    """Whisper tiny.en and the Piper voice, as a worker process loads them."""
    return load_models(BotSettings(environment="test", json_logs=True))


@pytest.fixture(scope="session")
def speak(models: Models) -> Speak:
    """``speak(text, sample_rate)``: 16-bit mono PCM of the Piper voice saying ``text``."""

    def synthesize(text: str, sample_rate: int = 16_000) -> bytes:
        pcm = b"".join(chunk.audio_int16_bytes for chunk in models.piper.synthesize(text))
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
        source_rate = models.piper.config.sample_rate
        count = int(len(samples) * sample_rate / source_rate)
        resampled = np.interp(np.linspace(0, len(samples) - 1, count), np.arange(len(samples)), samples)
        return resampled.astype(np.int16).tobytes()

    return synthesize
