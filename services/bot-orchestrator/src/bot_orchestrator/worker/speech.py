"""Pipecat STT and TTS services over the models a worker loaded once (``models.py``).

Pipecat's ``WhisperSTTService`` takes a local model path, but it loads the model in its constructor
(once per pipeline, so once per interview) and decodes with beam 5; the subclass here reuses the
process's model and decodes with beam 1. Pipecat's ``PiperTTSService`` likewise loads (and, for an
unknown voice, downloads) in its constructor, so the Piper service here speaks with the voice already
loaded; ``EspeakTTSService`` is the fallback voice, espeak-ng run as a subprocess.
"""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import numpy as np
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.services.whisper.stt import WhisperSTTService, WhisperSTTSettings
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601
from pipecat.utils.types import assert_given

from bot_orchestrator.worker.models import Models, PreparedSpeech

ESPEAK_VOICE = "en-us"
ESPEAK_WORDS_PER_MINUTE = 165


class LoadedWhisperSTTService(WhisperSTTService):
    """Whisper over a model the process already holds (the bundled tiny.en: int8, beam 1)."""

    def __init__(self, *, model: Any, model_path: str, beam_size: int = 1, **kwargs: Any) -> None:
        self._loaded_model = model
        self._beam_size = beam_size
        super().__init__(
            settings=WhisperSTTService.Settings(model=model_path, language=Language.EN), device="cpu",
            compute_type="int8", **kwargs,
        )

    def _load(self) -> None:
        self._model = self._loaded_model
        unsupported = self._unsupported_language()
        if unsupported:
            raise ValueError(unsupported)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one VAD segment (16-bit PCM); same as Pipecat's, with our beam size."""
        model = self._model
        if model is None:
            yield ErrorFrame("Whisper model not available")
            return
        await self.start_processing_metrics()
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
        settings = cast(WhisperSTTSettings, self._settings)
        language = cast("Language | None", assert_given(settings.language))
        threshold = assert_given(settings.no_speech_prob)
        beam_size = self._beam_size

        def transcribe() -> list[Any]:
            # transcribe() decodes lazily: consume it here, in the worker thread.
            segments, _ = model.transcribe(
                samples, language=language, beam_size=beam_size, condition_on_previous_text=False,
                without_timestamps=True,
            )
            return list(segments)

        segments = await asyncio.to_thread(transcribe)
        text = " ".join(s.text.strip() for s in segments if threshold is None or s.no_speech_prob < threshold)
        await self.stop_processing_metrics()
        if text.strip():
            await self._handle_transcription(text, True, language)
            yield TranscriptionFrame(text.strip(), self._user_id, time_now_iso8601(), language)


class LoadedPiperTTSService(TTSService):
    """Piper with a voice the process already holds (the bundled en_US joe, 22.05 kHz); what was
    ``prepared`` ahead is played as it is."""

    def __init__(self, *, voice: Any, voice_name: str, prepared: PreparedSpeech | None = None, **kwargs: Any) -> None:
        super().__init__(
            push_start_frame=True, push_stop_frames=True,
            settings=TTSSettings(model=None, voice=voice_name, language=None), **kwargs,
        )
        self._voice = voice
        self._prepared = prepared

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesise sentence by sentence in a thread, streaming each one as it is ready."""
        ready = self._prepared.get(text) if self._prepared is not None else None
        chunks = iter(self._voice.synthesize(text)) if ready is None else iter(())

        def next_chunk() -> bytes | None:
            chunk = next(chunks, None)
            return None if chunk is None else chunk.audio_int16_bytes

        async def audio() -> AsyncIterator[bytes]:
            for prepared_pcm in ready or ():
                yield prepared_pcm
            while (pcm := await asyncio.to_thread(next_chunk)) is not None:
                yield pcm

        try:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                audio(), in_sample_rate=self._voice.config.sample_rate, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as e:  # a failed sentence is reported in the pipeline, not raised through it
            yield ErrorFrame(error=f"Piper could not speak: {e}")
        finally:
            await self.stop_ttfb_metrics()


class EspeakTTSService(TTSService):
    """espeak-ng as a subprocess (WAV on stdout): robotic, but small and always local."""

    def __init__(self, *, executable: str, voice: str = ESPEAK_VOICE, **kwargs: Any) -> None:
        super().__init__(
            push_start_frame=True, push_stop_frames=True,
            settings=TTSSettings(model=None, voice=voice, language=None), **kwargs,
        )
        self._executable = executable
        self._espeak_voice = voice

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        try:
            await self.start_tts_usage_metrics(text)
            process = await asyncio.create_subprocess_exec(
                self._executable, "--stdin", "--stdout", "-v", self._espeak_voice, "-s", str(ESPEAK_WORDS_PER_MINUTE),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            # The text goes on stdin, never in argv: it cannot be read as an option.
            wav, error = await process.communicate(text.encode())
            if process.returncode != 0 or len(wav) <= 44:
                said = error.decode(errors="replace")[:200]
                yield ErrorFrame(error=f"espeak-ng failed ({process.returncode}): {said}")
                return

            async def audio() -> AsyncIterator[bytes]:
                yield wav

            async for frame in self._stream_audio_frames_from_iterator(
                audio(), strip_wav_header=True, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except OSError as e:
            yield ErrorFrame(error=f"espeak-ng could not run: {e}")
        finally:
            await self.stop_ttfb_metrics()


def stt_service(models: Models, beam_size: int = 1) -> LoadedWhisperSTTService:
    return LoadedWhisperSTTService(model=models.whisper, model_path=models.whisper_path, beam_size=beam_size)


def tts_service(models: Models, provider: str) -> TTSService:
    """The voice the config asks for, else the other local one (``voices_for`` said which is there)."""
    voice = voice_for(models, provider)
    if voice == "piper":
        return LoadedPiperTTSService(voice=models.piper, voice_name=models.piper_name, prepared=models.lines)
    if voice == "espeak" and models.espeak:
        return EspeakTTSService(executable=models.espeak)
    raise LookupError(f"no local voice for TTS provider {provider!r}")


def voice_for(models: Models, provider: str) -> str | None:
    """Which loaded voice serves a config's TTS provider; None if this worker cannot serve it."""
    if provider not in ("piper", "espeak"):
        return None
    preferred = [provider, *(v for v in ("piper", "espeak") if v != provider)]
    return next((v for v in preferred if v in models.voices), None)
