"""The interview's audio recording: stereo (candidate left, interviewer right), Ogg/Opus.

Each pipeline of the interview (a candidate may rejoin; another bot may resume after a crash) records
with Pipecat's ``AudioBufferProcessor`` from the moment the candidate connects, and uploads a part
every ``part_seconds`` as it goes, named by its offset on the interview's clock (the one segment
times use). When the interview ends, the parts (this bot's and any earlier bot's) are laid on one
timeline, silence between them, encoded as one file beside the transcript, and the parts deleted.
So a crash loses at most the part in progress.
"""

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import av
import numpy as np
import structlog
from pipecat.processors.audio.audio_buffer_processor import AudioBufferProcessor

from voice_shared.objects import ObjectStore, object_key, recording_parts_prefix

log = structlog.get_logger()

SAMPLE_RATE = 16_000  # what the recording keeps (speech); Opus itself runs at 48 kHz
OPUS_RATE = 48_000
BITRATE = 32_000  # stereo speech: tens of MB an hour, a tenth of the raw PCM
CONTENT_TYPE = "audio/ogg"


def encode_ogg(stereo: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Int16 samples shaped (n, 2) as Ogg/Opus."""
    out_buffer = io.BytesIO()
    with av.open(out_buffer, mode="w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=OPUS_RATE, layout="stereo")
        stream.bit_rate = BITRATE
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=OPUS_RATE)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo, dtype=np.int16).reshape(1, -1),
                                           format="s16", layout="stereo")
        frame.sample_rate = sample_rate
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(resampled):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return out_buffer.getvalue()


def decode_ogg(data: bytes, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """An Ogg/Opus file as int16 samples shaped (n, 2) at ``sample_rate``."""
    chunks = []
    with av.open(io.BytesIO(data), mode="r") as container:
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=sample_rate)
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1, 2) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1, 2) for f in resampler.resample(None)]
    return np.concatenate(chunks) if chunks else np.zeros((0, 2), dtype=np.int16)


def _stereo(left: bytes, right: bytes) -> np.ndarray:
    a, b = np.frombuffer(left, dtype=np.int16), np.frombuffer(right, dtype=np.int16)
    n = max(len(a), len(b))
    stereo = np.zeros((n, 2), dtype=np.int16)
    stereo[: len(a), 0], stereo[: len(b), 1] = a, b
    return stereo


@dataclass(frozen=True)
class Recording:
    key: str
    duration_ms: int


@dataclass
class _Track:
    """One pipeline's recording: where on the interview's clock it began, how much it has written."""

    offset_ms: int
    samples: int = 0


@dataclass
class Recorder:
    """The recording of one session, across the pipelines of this bot's job."""

    store: ObjectStore
    prefix: str
    org_id: UUID
    session_id: UUID
    part_seconds: float = 20.0
    _uploads: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def parts_prefix(self) -> str:
        return recording_parts_prefix(self.prefix, self.org_id, self.session_id)

    def processor(self, offset_ms: Callable[[], int]) -> AudioBufferProcessor:
        """The pipeline's buffer (after the output transport); it starts when ``start`` is called,
        and ``offset_ms()`` then says where on the interview's clock it begins."""
        buffer = AudioBufferProcessor(sample_rate=SAMPLE_RATE, num_channels=2,
                                      buffer_size=int(SAMPLE_RATE * 2 * self.part_seconds))  # bytes of one mono track
        track: list[_Track] = []

        @buffer.event_handler("on_recording_started")
        async def on_started(_: Any) -> None:
            track[:] = [_Track(offset_ms())]

        @buffer.event_handler("on_track_audio_data")
        async def on_part(_: Any, candidate: bytes, interviewer: bytes, rate: int, channels: int) -> None:
            if not track or not (candidate or interviewer):
                return
            stereo = _stereo(candidate, interviewer)
            at = track[0].offset_ms + round(track[0].samples * 1000 / rate)
            track[0].samples += len(stereo)
            # Off the pipeline's path: an upload must not hold up the audio.
            task = asyncio.create_task(self._upload(at, stereo, rate), name=f"recording-part-{at}")
            self._uploads.add(task)
            task.add_done_callback(self._uploads.discard)

        return buffer

    async def _upload(self, at_ms: int, stereo: np.ndarray, rate: int) -> None:
        try:
            data = await asyncio.to_thread(encode_ogg, stereo, rate)
            await self.store.put(f"{self.parts_prefix}{at_ms:010d}.ogg", data, CONTENT_TYPE)
        except Exception:  # a lost part is a gap in the recording, not a failed interview
            log.exception("recording_part_failed", session_id=str(self.session_id), at_ms=at_ms)

    async def finish(self, day: datetime) -> Recording | None:
        """Wait for the uploads, join every part of the session into one file, delete the parts."""
        if self._uploads:
            await asyncio.gather(*self._uploads, return_exceptions=True)
        parts = await self.store.keys(self.parts_prefix)
        if not parts:
            return None
        placed = []
        for key in parts:
            at_ms = int(key.rsplit("/", 1)[-1].removesuffix(".ogg"))
            placed.append((at_ms * SAMPLE_RATE // 1000, await asyncio.to_thread(decode_ogg, await self.store.get(key))))
        timeline = np.zeros((max(start + len(pcm) for start, pcm in placed), 2), dtype=np.int16)
        for start, pcm in placed:
            timeline[start:start + len(pcm)] = pcm
        key = object_key(self.prefix, "recordings", self.org_id, day, self.session_id, "ogg")
        await self.store.put(key, await asyncio.to_thread(encode_ogg, timeline), CONTENT_TYPE)
        for part in parts:
            await self.store.delete(part)
        duration_ms = round(len(timeline) * 1000 / SAMPLE_RATE)
        log.info("recording_stored", session_id=str(self.session_id), parts=len(parts), duration_ms=duration_ms)
        return Recording(key, duration_ms)
