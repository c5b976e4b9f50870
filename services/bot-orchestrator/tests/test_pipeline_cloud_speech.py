"""Deepgram STT and Cartesia TTS, as the worker builds them, against local fakes of their websocket APIs.

The fakes listen on 127.0.0.1 and speak enough of each provider's wire protocol for Pipecat's clients:

- Deepgram live transcription (``/v1/listen``): checks ``Authorization: Token <key>`` and the query
  (linear16, 16 kHz, mono, model, language), takes binary audio, and answers ``Results`` messages:
  interim ones while it hears sound, a final one (``is_final``, ``speech_final``) after 300 ms of
  silence, and a final ``from_finalize`` one when the client sends ``Finalize``. It cannot recognise
  speech: each stretch of sound it hears is "recognised" as the next of its scripted utterances.
- Cartesia TTS (``/tts/websocket``): checks ``X-API-Key`` and ``Cartesia-Version`` and each request
  (voice, model, raw pcm_s16le output), and answers base64 PCM chunks of a tone at the requested
  sample rate, word timestamps, and ``done`` once the client closes the context (``continue: false``).
"""

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from pipecat.frames.frames import (
    ClientConnectedFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.utils.errors import ErrorCategory
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from bot_orchestrator.engine import InterviewEngine, ScriptedInterviewer
from bot_orchestrator.worker.interviewer import InterviewerProcessor
from bot_orchestrator.worker.models import Models
from bot_orchestrator.worker.pipeline import AUDIO_IN_SAMPLE_RATE, AUDIO_OUT_SAMPLE_RATE, turn_taking
from bot_orchestrator.worker.providers import Speech, choose_speech
from bot_orchestrator.worker.settings import BotSettings
from voice_shared.api.configs import InterviewDefinition
from voice_shared.contracts import AnswerReceived, Event, TranscriptSegment

DEEPGRAM_KEY, CARTESIA_KEY = "dg-test-key-1234", "sk_car_test_5678"
VOICE_ID = "a0e99841-438c-4a64-b679-ae501e7d6091"
FRAME_MS = 20
SECONDS_PER_WORD = 0.2  # how long the fake Cartesia speaks each word
PARAMS = PipelineParams(audio_in_sample_rate=AUDIO_IN_SAMPLE_RATE, audio_out_sample_rate=AUDIO_OUT_SAMPLE_RATE)


# --- the fake Deepgram ---------------------------------------------------------------------------------


class FakeDeepgram:
    """Deepgram's live transcription websocket, with scripted transcripts for what it hears."""

    ENDPOINTING_MS = 300
    INTERIM_EVERY_MS = 400
    LOUD_RMS = 500.0

    def __init__(self, key: str, utterances: list[str], *, model: str = "nova-3-general", language: str = "en"):
        self.key, self.model, self.language = key, model, language
        self.utterances = list(utterances)
        self.rejected: list[tuple[int, str]] = []
        self.queries: list[dict[str, str]] = []
        self.audio_bytes = 0
        self.control: list[str] = []  # the JSON messages the client sent (Finalize, KeepAlive, CloseStream)
        self.finals: list[dict[str, Any]] = []
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> "FakeDeepgram":
        self._server = await serve(self._serve, "127.0.0.1", 0, process_request=self._check)
        return self

    async def __aexit__(self, *_: Any) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def _reject(self, connection: ServerConnection, status: HTTPStatus, reason: str) -> Response:
        self.rejected.append((status.value, reason))
        return connection.respond(status, json.dumps({"err_code": status.phrase, "err_msg": reason}))

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path != "/v1/listen":
            return self._reject(connection, HTTPStatus.NOT_FOUND, f"no such path {url.path}")
        if request.headers.get("Authorization") != f"Token {self.key}":
            return self._reject(connection, HTTPStatus.UNAUTHORIZED, "Invalid credentials.")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        expected = {"encoding": "linear16", "sample_rate": str(AUDIO_IN_SAMPLE_RATE), "channels": "1",
                    "model": self.model, "language": self.language}
        wrong = {k: query.get(k) for k, v in expected.items() if query.get(k) != v}
        if wrong:
            return self._reject(connection, HTTPStatus.BAD_REQUEST, f"unexpected query parameters {wrong}")
        self.queries.append(query)
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        # Pipecat closes its end right after CloseStream, often before the Metadata reply gets there.
        with contextlib.suppress(ConnectionClosed):
            await self._transcribe(connection)

    async def _transcribe(self, connection: ServerConnection) -> None:
        request_id = str(uuid.uuid4())
        heard_ms = 0  # audio received so far, in ms: the clock of the results' start and duration
        voiced_ms = silent_ms = since_interim_ms = 0
        utterance_start_ms: int | None = None
        pending = bytearray()
        frame_bytes = AUDIO_IN_SAMPLE_RATE * FRAME_MS // 1000 * 2

        async def results(*, final: bool, speech_final: bool = False, from_finalize: bool = False) -> None:
            nonlocal utterance_start_ms, voiced_ms, silent_ms, since_interim_ms
            start = utterance_start_ms if utterance_start_ms is not None else heard_ms
            text = ""
            if utterance_start_ms is not None:
                text = self.utterances[0] if self.utterances else ""
                if not final:  # an interim result: the words heard so far
                    words = text.split()
                    text = " ".join(words[:max(1, len(words) * voiced_ms // 1500)])
            message = self.results(request_id, text, start / 1000, (heard_ms - start) / 1000, final=final,
                                   speech_final=speech_final, from_finalize=from_finalize)
            await connection.send(json.dumps(message))
            if final:
                self.finals.append(message)
                if utterance_start_ms is not None and self.utterances:
                    self.utterances.pop(0)
                utterance_start_ms, voiced_ms, silent_ms, since_interim_ms = None, 0, 0, 0

        async for message in connection:
            if isinstance(message, bytes):
                self.audio_bytes += len(message)
                pending.extend(message)
                while len(pending) >= frame_bytes:
                    samples = np.frombuffer(bytes(pending[:frame_bytes]), dtype=np.int16).astype(np.float64)
                    del pending[:frame_bytes]
                    heard_ms += FRAME_MS
                    if np.sqrt(np.mean(samples ** 2)) >= self.LOUD_RMS:
                        if utterance_start_ms is None:
                            utterance_start_ms = heard_ms - FRAME_MS
                        voiced_ms, silent_ms, since_interim_ms = voiced_ms + FRAME_MS, 0, since_interim_ms + FRAME_MS
                        if since_interim_ms >= self.INTERIM_EVERY_MS:
                            since_interim_ms = 0
                            await results(final=False)
                    elif utterance_start_ms is not None:
                        silent_ms += FRAME_MS
                        if silent_ms >= self.ENDPOINTING_MS:
                            await results(final=True, speech_final=True)
                continue
            kind = json.loads(message).get("type")
            self.control.append(kind)
            if kind == "Finalize":
                await results(final=True, from_finalize=True)
            elif kind == "CloseStream":
                await connection.send(json.dumps({
                    "type": "Metadata", "transaction_key": "deprecated", "request_id": request_id,
                    "sha256": "0" * 64, "created": "2026-01-01T00:00:00.000Z", "duration": heard_ms / 1000,
                    "channels": 1, "models": [str(uuid.UUID(int=1))],
                    "model_info": {str(uuid.UUID(int=1)): {"name": "general-nova-3", "version": "2025-01-01.0",
                                                            "arch": "nova-3"}},
                }))
                await connection.close()
                return
            elif kind != "KeepAlive":
                await connection.close(1008, f"unknown message type {kind}")
                return

    def results(self, request_id: str, text: str, start: float, duration: float, *, final: bool,
                speech_final: bool, from_finalize: bool) -> dict[str, Any]:
        words = text.split()
        step = duration / max(1, len(words))
        return {
            "type": "Results", "channel_index": [0, 1], "duration": duration, "start": start,
            "is_final": final, "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{
                "transcript": text, "confidence": 0.98 if text else 0.0,
                "words": [{"word": w.strip(".,?!").lower(), "start": start + i * step, "end": start + (i + 1) * step,
                           "confidence": 0.98, "punctuated_word": w} for i, w in enumerate(words)],
            }]},
            "metadata": {"request_id": request_id, "model_uuid": str(uuid.UUID(int=1)),
                         "model_info": {"name": "general-nova-3", "version": "2025-01-01.0", "arch": "nova-3"}},
        }


# --- the fake Cartesia ---------------------------------------------------------------------------------


class FakeCartesia:
    """Cartesia's websocket TTS: a tone for each word, at the sample rate each request asks for."""

    CHUNK_SECONDS = 0.1

    def __init__(self, key: str, voice_id: str, *, model: str = "sonic-3.6"):
        self.key, self.voice_id, self.model = key, voice_id, model
        self.rejected: list[tuple[int, str]] = []
        self.handshake_headers: list[Headers] = []
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.audio_bytes_sent = 0
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"  # http: the bot makes it ws

    async def __aenter__(self) -> "FakeCartesia":
        self._server = await serve(self._serve, "127.0.0.1", 0, process_request=self._check)
        return self

    async def __aexit__(self, *_: Any) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        problem: tuple[HTTPStatus, str] | None = None
        if urlsplit(request.path).path != "/tts/websocket":
            problem = HTTPStatus.NOT_FOUND, "Not found"
        elif request.headers.get("X-API-Key") != self.key:
            problem = HTTPStatus.UNAUTHORIZED, "Invalid API key"
        elif not request.headers.get("Cartesia-Version"):
            problem = HTTPStatus.BAD_REQUEST, "Cartesia-Version header is required"
        if problem is None:
            self.handshake_headers.append(request.headers)
            return None
        self.rejected.append((problem[0].value, problem[1]))
        return connection.respond(problem[0], json.dumps({"error": problem[1]}))

    def _invalid(self, request: dict[str, Any]) -> str | None:
        output = request.get("output_format") or {}
        if request.get("voice") != {"mode": "id", "id": self.voice_id}:
            return f"unknown voice {request.get('voice')}"
        if request.get("model_id") != self.model:
            return f"unknown model {request.get('model_id')}"
        if (output.get("container"), output.get("encoding")) != ("raw", "pcm_s16le"):
            return f"this fake only makes raw pcm_s16le, not {output}"
        if not isinstance(output.get("sample_rate"), int) or not 8000 <= output["sample_rate"] <= 48000:
            return f"invalid sample rate {output.get('sample_rate')}"
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):  # the client may go while audio is on its way
            await self._speak(connection)

    async def _speak(self, connection: ServerConnection) -> None:
        cancelled: set[str] = set()
        elapsed: dict[str, float] = {}  # seconds spoken so far in each context
        async for message in connection:
            request = json.loads(message)
            self.requests.append(request)
            context_id = request.get("context_id", "")
            if request.get("cancel"):
                cancelled.add(context_id)
                continue
            problem = self._invalid(request)
            if problem is not None:
                self.errors.append(problem)
                await connection.send(json.dumps({"type": "error", "context_id": context_id, "status_code": 400,
                                                  "done": True, "error": problem}))
                continue
            rate, words = request["output_format"]["sample_rate"], request["transcript"].split()
            start = elapsed.get(context_id, 0.0)
            if words and context_id not in cancelled:
                starts = [start + i * SECONDS_PER_WORD for i in range(len(words))]
                await connection.send(json.dumps({
                    "type": "timestamps", "context_id": context_id, "status_code": 206, "done": False,
                    "word_timestamps": {"words": words, "start": starts,
                                        "end": [s + SECONDS_PER_WORD for s in starts]},
                }))
                pcm = tone(len(words) * SECONDS_PER_WORD, rate)
                step = int(rate * self.CHUNK_SECONDS) * 2
                for i in range(0, len(pcm), step):
                    chunk = pcm[i:i + step]
                    self.audio_bytes_sent += len(chunk)
                    await connection.send(json.dumps({
                        "type": "chunk", "context_id": context_id, "status_code": 206, "done": False,
                        "data": base64.b64encode(chunk).decode(), "step_time": self.CHUNK_SECONDS * 1000,
                    }))
                elapsed[context_id] = start + len(words) * SECONDS_PER_WORD
            if not request.get("continue", False) and context_id not in cancelled:
                await connection.send(json.dumps({"type": "done", "context_id": context_id, "status_code": 206,
                                                  "done": True}))


def tone(seconds: float, sample_rate: int, hz: float = 220.0) -> bytes:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16).tobytes()


# --- the worker's services against them ----------------------------------------------------------------


def definition(stt: str = "deepgram", tts: str = "cartesia", **tts_options: Any) -> InterviewDefinition:
    return InterviewDefinition.model_validate({
        "botName": "Ada", "persona": "You are Ada.", "greeting": "Hello, I'm Ada.",
        "questions": [{"id": "intro", "text": "Tell me about your last project.",
                       "followUp": {"maxFollowUps": 1, "expectedItems": ["monitoring"]}}],
        "rubric": {"criteria": [{"id": "c", "name": "C", "weight": 1}]},
        "providers": {"stt": {"provider": stt, "options": {"model": "nova-3-general"}},
                      "tts": {"provider": tts, "options": {"voiceId": VOICE_ID, **tts_options}}},
    })


async def cloud_speech(deepgram: FakeDeepgram | None, cartesia: FakeCartesia | None,
                       keys: dict[str, str] | None = None, plan: InterviewDefinition | None = None) -> Speech:
    """The Speech the worker's job would choose, with its URLs pointed at the fakes."""
    settings = BotSettings(environment="test", deepgram_url=deepgram.url if deepgram else "ws://127.0.0.1:9",
                           cartesia_url=cartesia.url if cartesia else "ws://127.0.0.1:9")
    given = keys if keys is not None else {"deepgram": DEEPGRAM_KEY, "cartesia": CARTESIA_KEY}

    async def credential(service: str) -> str | None:
        return given.get(service)

    models = Models(whisper=None, whisper_path="")
    speech = await choose_speech(plan or definition(), models, settings, credential)
    assert isinstance(speech, Speech), speech
    return speech


def audio(pcm: bytes) -> list[Frame]:
    """Input audio in 20 ms frames, as a transport delivers it."""
    size = AUDIO_IN_SAMPLE_RATE * FRAME_MS // 1000 * 2
    return [InputAudioRawFrame(pcm[i:i + size], AUDIO_IN_SAMPLE_RATE, 1) for i in range(0, len(pcm) - size + 1, size)]


def silence(seconds: float) -> bytes:
    return bytes(int(AUDIO_IN_SAMPLE_RATE * seconds) * 2)


@pytest.fixture
async def deepgram() -> AsyncIterator[FakeDeepgram]:
    async with FakeDeepgram(DEEPGRAM_KEY, ["I moved the billing service to the cloud.",
                                           "We watched it with dashboards."]) as fake:
        yield fake


@pytest.fixture
async def cartesia() -> AsyncIterator[FakeCartesia]:
    async with FakeCartesia(CARTESIA_KEY, VOICE_ID) as fake:
        yield fake


async def test_deepgram_transcripts_come_back_as_transcription_frames(deepgram: FakeDeepgram) -> None:
    stt = (await cloud_speech(deepgram, None)).stt()

    # The first answer ends in silence (Deepgram's endpointing); the second is cut off by the VAD's
    # stop, which makes Pipecat send Finalize.
    down, up = await run_test(
        stt,
        frames_to_send=[
            *audio(silence(0.2) + tone(1.2, AUDIO_IN_SAMPLE_RATE) + silence(0.6)), SleepFrame(0.3),
            VADUserStartedSpeakingFrame(), *audio(tone(0.8, AUDIO_IN_SAMPLE_RATE)), VADUserStoppedSpeakingFrame(),
            SleepFrame(0.3),
        ],
        expected_up_frames=None,
        pipeline_params=PARAMS,
    )

    finals = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert [f.text for f in finals] == ["I moved the billing service to the cloud.", "We watched it with dashboards."]
    assert any(isinstance(f, InterimTranscriptionFrame) for f in down)
    assert not [f for f in up if isinstance(f, ErrorFrame)]
    assert [m["speech_final"] for m in deepgram.finals] == [True, False]
    assert [m["from_finalize"] for m in deepgram.finals] == [False, True]
    assert "Finalize" in deepgram.control and "CloseStream" in deepgram.control
    [query] = deepgram.queries  # one connection for the pipeline, with the worker's parameters
    assert (query["model"], query["language"], query["sample_rate"]) == ("nova-3-general", "en", "16000")
    assert deepgram.audio_bytes == (0.2 + 1.2 + 0.6 + 0.8) * AUDIO_IN_SAMPLE_RATE * 2
    assert deepgram.rejected == []


async def test_cartesia_speaks_a_sentence_as_tts_audio_at_the_pipeline_rate(cartesia: FakeCartesia) -> None:
    tts = (await cloud_speech(None, cartesia, plan=definition(speed=1.1))).tts()
    sentence = "Hello, I'm Ada. Tell me about your last project."

    down, up = await run_test(
        tts, frames_to_send=[TTSSpeakFrame(sentence), SleepFrame(0.5)], expected_up_frames=None, pipeline_params=PARAMS,
    )

    assert not [f for f in up if isinstance(f, ErrorFrame)] and cartesia.errors == []
    spoken = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert spoken and {f.sample_rate for f in spoken} == {AUDIO_OUT_SAMPLE_RATE}
    assert sum(len(f.audio) for f in spoken) == cartesia.audio_bytes_sent == \
        len(sentence.split()) * SECONDS_PER_WORD * AUDIO_OUT_SAMPLE_RATE * 2
    kinds = [type(f) for f in down if isinstance(f, (TTSStartedFrame, TTSAudioRawFrame, TTSStoppedFrame))]
    assert kinds[0] is TTSStartedFrame and kinds[-1] is TTSStoppedFrame and kinds.count(TTSStoppedFrame) == 1
    assert " ".join(f.text for f in down if isinstance(f, TTSTextFrame)) == sentence  # from the word timestamps
    speak, close = cartesia.requests
    assert (speak["transcript"], speak["continue"]) == (sentence, True)
    assert (close["transcript"], close["continue"]) == ("", False)  # the end of the context
    assert speak["voice"] == {"mode": "id", "id": VOICE_ID} and speak["language"] == "en"
    assert speak["output_format"] == {"container": "raw", "encoding": "pcm_s16le", "sample_rate": AUDIO_OUT_SAMPLE_RATE}
    assert speak["generation_config"] == {"speed": 1.1}
    [headers] = cartesia.handshake_headers
    assert headers["X-API-Key"] == CARTESIA_KEY


async def test_a_fresh_service_per_pipeline_each_with_its_own_connection(
    deepgram: FakeDeepgram, cartesia: FakeCartesia
) -> None:
    speech = await cloud_speech(deepgram, cartesia)

    for _ in range(2):  # a candidate who rejoins gets a new pipeline
        stt, tts = speech.stt(), speech.tts()
        await run_test(Pipeline([stt, tts]), frames_to_send=[TTSSpeakFrame("Welcome back."), SleepFrame(0.2)],
                       expected_up_frames=None, pipeline_params=PARAMS)

    assert len(deepgram.queries) == 2 and len(cartesia.handshake_headers) == 2
    assert [r["transcript"] for r in cartesia.requests if r["transcript"]] == ["Welcome back."] * 2


@pytest.mark.parametrize("provider", ["deepgram", "cartesia"])
async def test_a_wrong_key_is_refused_and_reported_not_waited_on(
    provider: str, deepgram: FakeDeepgram, cartesia: FakeCartesia
) -> None:
    keys = {"deepgram": DEEPGRAM_KEY, "cartesia": CARTESIA_KEY, provider: "not-the-key"}
    speech = await cloud_speech(deepgram, cartesia, keys)
    service = speech.stt() if provider == "deepgram" else speech.tts()

    _, up = await asyncio.wait_for(
        run_test(service, frames_to_send=[SleepFrame(0.1)], expected_up_frames=None, pipeline_params=PARAMS), 10,
    )

    fake = deepgram if provider == "deepgram" else cartesia
    assert [status for status, _ in fake.rejected] == [401]
    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert errors and {f.category for f in errors} == {ErrorCategory.AUTHENTICATION}, up
    # Pipecat marks the service unusable; the worker's processor_unusable_policy decides what then happens.
    assert not service.is_usable


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


@pytest.mark.slow  # real VAD and smart-turn models, and the answer is fed in real time
async def test_a_spoken_answer_goes_through_deepgram_and_the_follow_up_through_cartesia(
    deepgram: FakeDeepgram, cartesia: FakeCartesia, speak: Any
) -> None:
    speech = await cloud_speech(deepgram, cartesia)
    sink = Sink()
    interviewer = InterviewerProcessor(InterviewEngine(definition(), ScriptedInterviewer()), uuid.uuid4(), sink)
    user, _ = turn_taking()
    answer = speak("I moved the billing service to the cloud.", AUDIO_IN_SAMPLE_RATE)
    frames: list[Frame] = []
    for i, frame in enumerate(audio(silence(0.5) + answer + silence(2.5))):
        frames.append(frame)
        if i % 5 == 4:
            frames.append(SleepFrame(0.1))  # real time, 100 ms at a time, as a transport delivers it

    down, _ = await run_test(
        Pipeline([speech.stt(), user, interviewer, speech.tts()]),
        frames_to_send=[ClientConnectedFrame(), *frames, SleepFrame(1.0)],
        pipeline_params=PARAMS, start_timeout=5.0,
    )

    said = [e for e in sink.events if isinstance(e, TranscriptSegment) and e.speaker == "candidate"]
    assert [s.text for s in said] == ["I moved the billing service to the cloud."]
    assert sum(isinstance(e, AnswerReceived) for e in sink.events) == 1
    spoken = [r["transcript"] for r in cartesia.requests if r.get("transcript")]
    assert spoken[0] == "Hello, I'm Ada." and spoken[1].endswith("Tell me about your last project."), spoken
    assert any("monitoring" in text for text in spoken[2:]), spoken  # the follow-up on the missing item
    audio_out = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert audio_out and {f.sample_rate for f in audio_out} == {AUDIO_OUT_SAMPLE_RATE}
