"""The worker's speech stack in a pipeline without a network: spoken audio in, the interviewer's speech out.

Real models (Silero VAD, smart-turn v3, Whisper tiny.en, the Piper voice) between run_test's frames:
the candidate's answer is synthesised, fed in real time as 20 ms input frames, detected as a turn,
transcribed, handed to the engine, and its next question comes out of TTS as audio.
"""

import uuid
from typing import Any

import numpy as np
import pytest
import soxr
from pipecat.frames.frames import (
    ClientConnectedFrame,
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import SleepFrame, run_test

from bot_orchestrator.engine import InterviewEngine, ScriptedInterviewer
from bot_orchestrator.worker.interviewer import InterviewerProcessor
from bot_orchestrator.worker.models import Models
from bot_orchestrator.worker.pipeline import AUDIO_IN_SAMPLE_RATE, AUDIO_OUT_SAMPLE_RATE, turn_taking
from bot_orchestrator.worker.speech import EspeakTTSService, stt_service, tts_service
from voice_shared.api.configs import InterviewDefinition
from voice_shared.contracts import AnswerReceived, Event, TranscriptSegment

pytestmark = pytest.mark.slow  # real models, and the answer is fed in real time

FRAME_BYTES = AUDIO_IN_SAMPLE_RATE // 50 * 2  # 20 ms of 16-bit mono
ANSWER = "I designed the billing service and moved it to the cloud last year."
FOLLOW_UP = "Could you also tell me about monitoring?"


def plan() -> InterviewDefinition:
    return InterviewDefinition.model_validate({
        "botName": "Ada", "persona": "You are Ada.", "greeting": "Hello, I'm Ada.",
        "questions": [{"id": "intro", "text": "Tell me about your last project.",
                       "followUp": {"maxFollowUps": 1, "expectedItems": ["monitoring"]}}],
        "rubric": {"criteria": [{"id": "c", "name": "C", "weight": 1}]},
    })


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


def audio_frames(pcm: bytes, seconds_of_silence_before: float, seconds_of_silence_after: float) -> list[Frame]:
    """Input audio in 20 ms frames, paced in real time (100 ms at a time), as a transport delivers it."""
    silence = lambda seconds: bytes(int(AUDIO_IN_SAMPLE_RATE * seconds) * 2)  # noqa: E731
    audio = silence(seconds_of_silence_before) + pcm + silence(seconds_of_silence_after)
    frames: list[Frame] = []
    for i, start in enumerate(range(0, len(audio) - FRAME_BYTES + 1, FRAME_BYTES)):
        frames.append(InputAudioRawFrame(audio[start:start + FRAME_BYTES], AUDIO_IN_SAMPLE_RATE, 1))
        if i % 5 == 4:
            frames.append(SleepFrame(0.1))
    return frames


async def test_a_spoken_answer_is_heard_transcribed_and_answered_with_speech(models: Models, speak: Any) -> None:
    sink, session_id = Sink(), uuid.uuid4()
    interviewer = InterviewerProcessor(InterviewEngine(plan(), ScriptedInterviewer()), session_id, sink)
    user, _ = turn_taking()
    stt, tts = stt_service(models), tts_service(models, "piper")

    down, _ = await run_test(
        Pipeline([stt, user, interviewer, tts]),
        frames_to_send=[ClientConnectedFrame(), *audio_frames(speak(ANSWER, AUDIO_IN_SAMPLE_RATE), 0.5, 2.0),
                        SleepFrame(2.0)],
        pipeline_params=PipelineParams(audio_in_sample_rate=AUDIO_IN_SAMPLE_RATE,
                                       audio_out_sample_rate=AUDIO_OUT_SAMPLE_RATE),
        start_timeout=5.0,
    )

    said = [e for e in sink.events if isinstance(e, TranscriptSegment) and e.speaker == "candidate"]
    assert len(said) == 1, [e for e in sink.events if isinstance(e, TranscriptSegment)]
    words = said[0].text.lower()
    assert "billing" in words and "cloud" in words, words
    assert (said[0].question_id, said[0].follow_up_index) == ("intro", 0)
    assert [type(e).__name__ for e in sink.events if isinstance(e, AnswerReceived)] == ["AnswerReceived"]
    # The engine asked for the missing expected item, and TTS spoke it (after greeting and question).
    spoken = [f.text for f in down if isinstance(f, TTSTextFrame)]
    assert any("monitoring" in text for text in spoken), spoken
    assert sum(isinstance(f, TTSStartedFrame) for f in down) == 3
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert audio and all(f.sample_rate == AUDIO_OUT_SAMPLE_RATE for f in audio)
    assert not any(isinstance(f, TranscriptionFrame) for f in down)  # the aggregator consumed it


async def test_the_espeak_fallback_voice_says_words_whisper_understands(models: Models) -> None:
    # make test installs Debian's espeak-ng: the fallback voice of a worker without the Piper extra.
    assert models.espeak is not None, "espeak-ng is not installed (make test installs it)"
    question = "Tell me about the last system you designed."

    down, _ = await run_test(
        EspeakTTSService(executable=models.espeak),
        frames_to_send=[TTSSpeakFrame(question), SleepFrame(1.0)],
        pipeline_params=PipelineParams(audio_out_sample_rate=AUDIO_OUT_SAMPLE_RATE),
    )

    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert audio and all(f.sample_rate == AUDIO_OUT_SAMPLE_RATE and f.num_channels == 1 for f in audio)
    pcm = np.frombuffer(b"".join(f.audio for f in audio), dtype=np.int16).astype(np.float32) / 32768
    heard, _ = models.whisper.transcribe(soxr.resample(pcm, AUDIO_OUT_SAMPLE_RATE, AUDIO_IN_SAMPLE_RATE),
                                         language="en", beam_size=1)
    words = " ".join(segment.text for segment in heard).lower()
    assert "system" in words and "designed" in words, words
