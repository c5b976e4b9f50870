"""The recording's codec and its parts: stereo Ogg/Opus, laid on the interview's clock (no pipeline)."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot_orchestrator.worker.recording import SAMPLE_RATE, Recorder, decode_ogg, encode_ogg
from voice_shared.objects import LocalObjectStore


def tone(seconds: float, hz: float = 440.0, level: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * hz * t) * level).astype(np.int16)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


def test_stereo_opus_keeps_length_and_channels_apart() -> None:
    left = tone(2.0)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    data = encode_ogg(stereo)
    assert data[:4] == b"OggS" and len(data) < len(stereo.tobytes()) / 8  # compact: under 64 kbit/s
    back = decode_ogg(data)
    assert abs(len(back) - len(stereo)) < SAMPLE_RATE * 0.05
    assert rms(back[:, 0]) > 3000 and rms(back[:, 1]) < 100


async def test_parts_of_two_bots_become_one_timeline_and_go(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    org, sid = uuid.uuid4(), uuid.uuid4()
    first, second = Recorder(store, "", org, sid), Recorder(store, "", org, sid)  # a bot, then the one resuming
    voice = tone(2.0)
    await first._upload(0, np.stack([voice, np.zeros_like(voice)], axis=1), SAMPLE_RATE)
    await first._upload(2000, np.stack([np.zeros_like(voice), voice], axis=1), SAMPLE_RATE)
    await second._upload(9000, np.stack([voice, voice], axis=1), SAMPLE_RATE)  # after a 5 s gap

    stored = await second.finish(datetime(2026, 12, 3, tzinfo=UTC))

    assert stored is not None and stored.key == f"recordings/{org}/2026/12/03/{sid}.ogg"
    assert abs(stored.duration_ms - 11_000) < 100
    audio = decode_ogg(await store.get(stored.key))
    at = lambda a, b, ch: rms(audio[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE), ch])  # noqa: E731
    assert at(0.2, 1.8, 0) > 3000 and at(0.2, 1.8, 1) < 200  # candidate first
    assert at(2.2, 3.8, 1) > 3000 and at(2.2, 3.8, 0) < 200  # then the interviewer
    assert at(4.5, 8.5, 0) < 200 and at(4.5, 8.5, 1) < 200  # silence while nobody was recording
    assert at(9.2, 10.8, 0) > 3000 and at(9.2, 10.8, 1) > 3000
    assert await store.keys(first.parts_prefix) == []


async def test_no_parts_no_recording(tmp_path: Path) -> None:
    assert await Recorder(LocalObjectStore(tmp_path), "", uuid.uuid4(), uuid.uuid4()).finish(datetime.now(UTC)) is None
