"""One interview's Pipecat pipeline: transport → STT → user turns (VAD + smart turn) → interviewer → TTS.

    transport.input() → Whisper STT → user aggregator → interviewer → TTS → transport.output()
                                        (Silero VAD,                           → assistant aggregator
                                         smart-turn v3)

The user aggregator owns voice activity and end-of-turn detection (Pipecat 1.x puts the VAD there);
its VAD frames reach the segmented Whisper service upstream, which transcribes each speech segment.
The interviewer takes the aggregator's finished turn and answers with speech. The assistant
aggregator keeps the shared ``LLMContext`` whole (persona, what was said both ways), which is what a
model-driven interviewer reads.
"""

import statistics
from dataclasses import dataclass, field
from uuid import UUID

import structlog
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import ErrorFrame
from pipecat.observers.user_bot_latency_observer import LatencyBreakdown, UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker, ProcessorUnusablePolicy
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMAssistantAggregator,
    LLMContextAggregatorPair,
    LLMUserAggregator,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.tts_service import TTSService
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from bot_orchestrator.engine import InterviewEngine
from bot_orchestrator.worker.interviewer import InterviewerProcessor, InterviewSink, Rejoin

log = structlog.get_logger()

AUDIO_IN_SAMPLE_RATE = 16_000  # what Silero, smart turn and Whisper take
AUDIO_OUT_SAMPLE_RATE = 24_000


def transport_params() -> TransportParams:
    return TransportParams(
        audio_in_enabled=True, audio_out_enabled=True,
        audio_in_sample_rate=AUDIO_IN_SAMPLE_RATE, audio_out_sample_rate=AUDIO_OUT_SAMPLE_RATE,
    )


@dataclass
class Latencies:
    """Voice-to-voice latency of each turn: the candidate stopped talking → the bot's voice started."""

    seconds: list[float] = field(default_factory=list)
    first_speech_seconds: float | None = None  # candidate connected → greeting started

    def percentile_ms(self, q: int) -> float | None:
        if not self.seconds:
            return None
        if len(self.seconds) == 1:
            return round(self.seconds[0] * 1000, 1)
        return round(statistics.quantiles(self.seconds, n=100, method="inclusive")[q - 1] * 1000, 1)


@dataclass
class InterviewPipeline:
    worker: PipelineWorker
    interviewer: InterviewerProcessor
    latencies: Latencies
    failure: str | None = None  # why a service could no longer do its job (a provider refused the key)


def latency_observer(latencies: Latencies, session_id: UUID) -> UserBotLatencyObserver:
    observer = UserBotLatencyObserver()

    @observer.event_handler("on_latency_measured")
    async def on_latency_measured(_: UserBotLatencyObserver, seconds: float) -> None:
        latencies.seconds.append(seconds)

    @observer.event_handler("on_first_bot_speech_latency")
    async def on_first_bot_speech_latency(_: UserBotLatencyObserver, seconds: float) -> None:
        latencies.first_speech_seconds = seconds

    @observer.event_handler("on_latency_breakdown")
    async def on_latency_breakdown(_: UserBotLatencyObserver, breakdown: LatencyBreakdown) -> None:
        # Where each turn's time went (endpointing, transcription, speech synthesis), per service.
        log.info("turn_latency", session_id=str(session_id), total_seconds=round(breakdown.total_secs, 3),
                 parts={c.label: round(c.duration_secs, 3) for c in breakdown.contributions},
                 ttfb={t.processor: round(t.duration_secs, 3) for t in breakdown.ttfb})

    return observer


def turn_taking(persona: str = "") -> tuple[LLMUserAggregator, LLMAssistantAggregator]:
    """The user aggregator (Silero VAD, smart-turn v3 end of turn) and its assistant half."""
    context = LLMContext(messages=[{"role": "system", "content": persona}] if persona else None)
    user, assistant = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=SileroVADAnalyzer(),
            user_turn_strategies=UserTurnStrategies(
                stop=[TurnAnalyzerUserTurnStopStrategy(turn_analyzer=LocalSmartTurnAnalyzerV3())]
            ),
        ),
    )
    return user, assistant


def build_pipeline(
    transport: BaseTransport,
    stt: FrameProcessor,
    tts: TTSService,
    engine: InterviewEngine,
    session_id: UUID,
    sink: InterviewSink,
    *,
    persona: str = "",
    tick_seconds: float = 1.0,
    answer_pause_seconds: float = 0.0,
    latencies: Latencies | None = None,
    rejoin: Rejoin | None = None,
    recorder: FrameProcessor | None = None,
    turns: tuple[LLMUserAggregator, LLMAssistantAggregator] | None = None,
) -> InterviewPipeline:
    """The interview's pipeline and its worker; nothing runs until the worker is run.

    ``latencies`` collects across the pipelines of one interview (a candidate may rejoin); ``rejoin``
    makes this pipeline go on from an earlier one's transcript; ``recorder`` (an audio buffer) hears
    both sides after the output transport; ``turns`` is ``turn_taking(persona)`` made ahead (its models
    take tens of milliseconds to load, which the candidate would wait for).
    """
    user, assistant = turns or turn_taking(persona)
    interviewer = InterviewerProcessor(
        engine, session_id, sink, tick_seconds=tick_seconds, answer_pause_seconds=answer_pause_seconds, rejoin=rejoin,
    )
    recording = [recorder] if recorder is not None else []
    pipeline = Pipeline([transport.input(), stt, user, interviewer, tts, transport.output(), *recording, assistant])
    latencies = latencies or Latencies()
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=AUDIO_IN_SAMPLE_RATE, audio_out_sample_rate=AUDIO_OUT_SAMPLE_RATE,
            enable_metrics=True,
        ),
        observers=[latency_observer(latencies, session_id)],
        # The engine owns silence (idle prompt, then idle_timeout): Pipecat's own idle cut-off stays off.
        idle_timeout_secs=None,
        # One runner per interview inside a long-lived process: a finished interview must not
        # cancel anything else.
        cancel_runner_on_idle_timeout=False,
        # A speech service that can no longer work (its provider refused the key, the model is gone)
        # ends the interview at once with the reason, rather than leaving the bot deaf or mute.
        processor_unusable_policy=ProcessorUnusablePolicy.CANCEL,
    )
    interview = InterviewPipeline(worker, interviewer, latencies)

    @worker.event_handler("on_pipeline_error")
    async def on_pipeline_error(_: PipelineWorker, frame: ErrorFrame) -> None:
        if frame.processor is not None and not frame.processor.is_usable and interview.failure is None:
            interview.failure = f"provider_failed: {frame.processor.name}: {frame.error}"[:500]
            log.error("pipeline_service_unusable", session_id=str(session_id), reason=interview.failure)

    return interview
