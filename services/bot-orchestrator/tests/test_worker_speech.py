"""Choosing the voice, the espeak-ng fallback, latency percentiles and the ordered event publisher.

espeak-ng is not installed here, so its test runs a stand-in executable that behaves like it on the
command line (text on stdin, WAV on stdout); Piper and Whisper are tested in test_pipeline_speech.
"""

import asyncio
import io
import math
import stat
import struct
import uuid
import wave
from pathlib import Path

import pytest
from pipecat.frames.frames import ErrorFrame, TTSAudioRawFrame, TTSSpeakFrame, TTSStartedFrame, TTSStoppedFrame
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import SleepFrame, run_test

from bot_orchestrator.worker import events as events_module
from bot_orchestrator.worker.events import SessionEvents
from bot_orchestrator.worker.models import Models
from bot_orchestrator.worker.pipeline import Latencies
from bot_orchestrator.worker.speech import EspeakTTSService, LoadedPiperTTSService, tts_service, voice_for
from voice_shared.contracts import BotJoined, Envelope

ESPEAK_RATE = 22_050


def tone_wav(seconds: float = 0.5) -> bytes:
    """What espeak-ng --stdout writes: a 16-bit mono WAV."""
    samples = [int(8000 * math.sin(2 * math.pi * 220 * i / ESPEAK_RATE)) for i in range(int(ESPEAK_RATE * seconds))]
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(ESPEAK_RATE)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return out.getvalue()


def fake_espeak(tmp_path: Path, exit_code: int = 0) -> Path:
    """An executable that records its argv and stdin, then prints a WAV (or fails)."""
    (tmp_path / "tone.wav").write_bytes(tone_wav())
    script = tmp_path / "espeak-ng"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{tmp_path}/argv"\n'
        f'cat > "{tmp_path}/stdin"\n'
        + (f'cat "{tmp_path}/tone.wav"\n' if exit_code == 0 else f"echo 'no voice' >&2\nexit {exit_code}\n")
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def models_with(piper: object = None, espeak: str | None = None) -> Models:
    return Models(whisper=None, whisper_path="", piper=piper, piper_name="voice", espeak=espeak)


def test_the_config_s_voice_is_used_when_there_else_the_other_local_one() -> None:
    both = models_with(piper=object(), espeak="/usr/bin/espeak-ng")
    only_espeak = models_with(espeak="/usr/bin/espeak-ng")

    assert (voice_for(both, "piper"), voice_for(both, "espeak")) == ("piper", "espeak")
    assert (voice_for(only_espeak, "piper"), voice_for(only_espeak, "espeak")) == ("espeak", "espeak")
    assert voice_for(both, "cartesia") is None and voice_for(models_with(), "piper") is None
    assert isinstance(tts_service(both, "piper"), LoadedPiperTTSService)
    assert isinstance(tts_service(only_espeak, "piper"), EspeakTTSService)
    with pytest.raises(LookupError):
        tts_service(both, "cartesia")


async def test_espeak_speaks_text_given_on_stdin_as_audio_frames(tmp_path: Path) -> None:
    tts = tts_service(models_with(espeak=str(fake_espeak(tmp_path))), "piper")
    text = "--help is not an option here; it is what the interviewer says."

    down, _ = await run_test(tts, frames_to_send=[TTSSpeakFrame(text), SleepFrame(0.5)],
                             pipeline_params=PipelineParams(audio_out_sample_rate=24_000))

    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert [type(f) for f in down if isinstance(f, (TTSStartedFrame, TTSStoppedFrame))] == [
        TTSStartedFrame, TTSStoppedFrame]
    # Resampled to 24 kHz (less the resampler's tail).
    assert sum(len(f.audio) for f in audio) == pytest.approx(24_000 * 0.5 * 2, rel=0.1)
    assert all(f.sample_rate == 24_000 for f in audio)
    assert (tmp_path / "stdin").read_text() == text
    assert text not in (tmp_path / "argv").read_text()


async def test_a_failing_espeak_is_reported_not_raised(tmp_path: Path) -> None:
    tts = EspeakTTSService(executable=str(fake_espeak(tmp_path, exit_code=1)))

    down, up = await run_test(tts, frames_to_send=[TTSSpeakFrame("Hello."), SleepFrame(0.5)])

    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert errors and "no voice" in errors[0].error
    assert not any(isinstance(f, TTSAudioRawFrame) for f in down)


def test_latency_percentiles() -> None:
    assert Latencies().percentile_ms(50) is None
    assert Latencies([0.5]).percentile_ms(95) == 500.0
    many = Latencies([i / 10 for i in range(1, 11)])  # 0.1 .. 1.0 s
    assert many.percentile_ms(50) == 550.0 and many.percentile_ms(95) == 955.0


async def test_events_go_out_in_order_and_survive_a_broker_hiccup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "RETRY_DELAYS", (0.01, 0.01))
    published: list[Envelope] = []
    # The first event's first try fails; the second event fails every try (3); the third goes through.
    failures = iter([True, False, True, True, True])

    async def publish(env: Envelope) -> None:
        await asyncio.sleep(0)
        if next(failures, False):
            raise ConnectionError("broker away")
        published.append(env)

    org, sid = uuid.uuid4(), uuid.uuid4()
    events = SessionEvents(publish, org, sid, "corr-1").start()
    for n in range(3):
        events.emit(BotJoined(session_id=sid, bot_id=f"bot-{n}"))
    await events.aclose(timeout=5)

    assert [e.payload["bot_id"] for e in published] == ["bot-0", "bot-2"]
    assert events.lost == 1 and events.published == ["bot.joined", "bot.joined"]
    assert all((e.org_id, e.session_id, e.correlation_id) == (org, sid, "corr-1") for e in published)
