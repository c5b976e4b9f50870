"""`make bench-voice`: simulated interviews on the embedded stack, timed from both ends of the call.

Self-contained: starts `voice run`'s services and bot workers on a database, bus namespace and
ports of its own (``voice_cli.simulate.stack``), runs ``-n`` interviews with a simulated candidate
(WebRTC on 127.0.0.1, Whisper tiny.en and Piper on both sides, the scripted interviewer), prints
the tables and removes what it created.

- voice-to-voice latency: the candidate stopped speaking -> the bot's voice started, as the
  candidate hears it (and as the bot's own observer reports it in ``bot.finished``);
- speech-to-text and text-to-speech per turn: the bot's (from its ``turn_latency`` log lines) and
  the candidate's (its own Whisper and Piper calls);
- bot start-up: a process spawned -> idle with its models loaded (cold), against a warm bot picking
  up a started session's job; and the start -> greeting time of a session in either case.

    .venv/bin/python bench/bench_voice.py -n 3 --questions 3
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from voice_cli.simulate.personas import load_persona
from voice_cli.simulate.run import (
    EXAMPLE_CONFIG,
    SimulationResult,
    dev_organisation,
    load_config,
    percentile,
    simulate,
)
from voice_cli.simulate.speech import Ears, Voice
from voice_cli.simulate.stack import BotProcess, BusTap, LocalStack
from voice_shared.logging import configure_logging
from voice_shared.settings import ServiceSettings

OFFER_RETRY_SECONDS = 0.05  # fine enough to time the pick-up by the first answered offer


@dataclass
class Figures:
    """Seconds, by what was measured."""

    rows: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, values: Sequence[float | None]) -> None:
        self.rows.setdefault(name, []).extend(v for v in values if v is not None)

    def table(self, title: str, names: Sequence[str]) -> str:
        lines = [title, f"  {'':<60} {'n':>3} {'p50':>9} {'p95':>9} {'max':>9}"]
        for name in names:
            values = self.rows.get(name, [])
            cells = [_ms(percentile(values, 50)), _ms(percentile(values, 95)), _ms(max(values, default=None))]
            lines.append(f"  {name:<60} {len(values):>3} " + " ".join(f"{c:>9}" for c in cells))
        return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def bot_turns(bot: BotProcess, session_ids: set[str]) -> list[dict[str, Any]]:
    """The bot's ``turn_latency`` lines (JSON logs) for these sessions: where each turn's time went."""
    turns = []
    for line in bot.log.read_text(errors="replace").splitlines():
        if '"turn_latency"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "turn_latency" and entry.get("session_id") in session_ids:
            turns.append(entry)
    return turns


def add_bot_turns(figures: Figures, turns: list[dict[str, Any]]) -> None:
    for turn in turns:
        parts, ttfb = turn.get("parts", {}), turn.get("ttfb", {})
        if "transcription" not in parts:
            continue  # the greeting: nobody spoke before it
        figures.add("bot: endpointing wait", [parts.get("endpointing wait")])
        figures.add("bot: speech-to-text (Whisper, after the turn ended)", [parts["transcription"]])
        figures.add("bot: text-to-speech first audio (Piper)",
                    [v for k, v in ttfb.items() if "TTS" in k])
        figures.add("bot: turn total (its own observer)", [turn.get("total_seconds")])


async def interview(stack: LocalStack, voice: Voice, ears: Ears, persona: str, questions: int,
                    on_started: Any = None) -> SimulationResult:
    org_id, token = dev_organisation(stack.settings)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30.0, trust_env=False) as client:
        return await simulate(client, org_id, token, load_config(EXAMPLE_CONFIG, questions), load_persona(persona),
                              voice=voice, ears=ears, timeout_seconds=600, score_wait_seconds=0,
                              offer_retry_seconds=OFFER_RETRY_SECONDS, on_started=on_started)


def check(result: SimulationResult, stack: LocalStack) -> None:
    if result.status != "completed":
        print(f"warning: session {result.session_id} ended {result.status} ({result.status_reason})\n"
              f"{stack.logs()}", file=sys.stderr)


async def bench(stack: LocalStack, args: argparse.Namespace) -> str:
    tap = await BusTap(stack.amqp_url, stack.namespace).start()
    figures = Figures()
    try:
        loaded = time.monotonic()
        voice, ears = await asyncio.to_thread(lambda: (Voice(), Ears()))
        print(f"candidate's models loaded in {time.monotonic() - loaded:.1f} s", file=sys.stderr, flush=True)

        bot = stack.start_bot()
        (beat,) = await tap.idle_bots(1, 180)
        figures.add("bot process start-up (cold: spawn -> idle, models in)", [beat.at - bot.started_at])

        results: list[SimulationResult] = []
        for number in range(args.n):
            print(f"interview {number + 1}/{args.n} ({args.persona}, {args.questions} questions)...",
                  file=sys.stderr, flush=True)
            result = await interview(stack, voice, ears, args.persona, args.questions)
            check(result, stack)
            results.append(result)
            await tap.idle_bots(1, 60, since=time.monotonic())

        # Cold: no bot running when the session starts; one is spawned at that moment.
        bot.process.terminate()
        bot.process.wait(timeout=60)
        print("cold session (a bot spawned when it starts)...", file=sys.stderr, flush=True)
        cold_bots: list[BotProcess] = []
        cold = await interview(stack, voice, ears, args.persona, 1,
                               on_started=lambda _: cold_bots.append(stack.start_bot()))
        check(cold, stack)
    finally:
        await tap.stop()

    for result in results:
        t = result.timings
        figures.add("voice-to-voice, as the candidate hears it", t.voice_to_voice)
        figures.add("candidate: speech-to-text per bot utterance (Whisper)", t.stt)
        figures.add("candidate: text-to-speech per answer (Piper, whole answer)", t.tts)
        figures.add("job pick-up (warm: Start pressed -> bot's SDP answer)", [result.start_to_answer])
        figures.add("Start pressed -> greeting heard (warm bot)", [result.start_to_first_speech])
    finished = [e for e in tap.of("bot.finished") if e.body.get("session_id") in {str(r.session_id) for r in results}]
    figures.add("voice-to-voice p50 per interview (bot's observer)",
                [e.payload["latency_p50_ms"] / 1000 for e in finished if e.payload.get("latency_p50_ms")])
    add_bot_turns(figures, bot_turns(bot, {str(r.session_id) for r in results}))
    for spawned in cold_bots:
        first_beat = next((e for e in tap.of("bot.heartbeat") if e.payload["bot_id"] == spawned.bot_id), None)
        if first_beat is not None:
            figures.add("bot process start-up (cold: spawn -> idle, models in)", [first_beat.at - spawned.started_at])
    figures.add("Start pressed -> bot's SDP answer (cold: spawned at start)", [cold.start_to_answer])
    figures.add("Start pressed -> greeting heard (cold bot)", [cold.start_to_first_speech])

    turns = sum(len(r.timings.voice_to_voice) for r in results)
    overlaps = sum(r.timings.overlaps for r in results)
    head = (f"{args.n} simulated interviews x {args.questions} questions, persona {args.persona!r}, {turns} turns "
            f"measured ({overlaps} overlaps); embedded stack: Whisper tiny.en, Piper, scripted interviewer, "
            "WebRTC on 127.0.0.1")
    return "\n\n".join([
        head,
        figures.table("Voice-to-voice latency (the candidate stopped speaking -> the bot started speaking)", [
            "voice-to-voice, as the candidate hears it", "voice-to-voice p50 per interview (bot's observer)"]),
        figures.table("Per turn", [
            "bot: endpointing wait", "bot: speech-to-text (Whisper, after the turn ended)",
            "bot: text-to-speech first audio (Piper)", "bot: turn total (its own observer)",
            "candidate: speech-to-text per bot utterance (Whisper)",
            "candidate: text-to-speech per answer (Piper, whole answer)"]),
        figures.table("Bot start-up: cold process versus warm pick-up", [
            "bot process start-up (cold: spawn -> idle, models in)",
            "job pick-up (warm: Start pressed -> bot's SDP answer)",
            "Start pressed -> greeting heard (warm bot)",
            "Start pressed -> bot's SDP answer (cold: spawned at start)",
            "Start pressed -> greeting heard (cold bot)"]),
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3, help="interviews with a warm bot (default 3)")
    parser.add_argument("--questions", type=int, default=3, help="questions per interview (default 3)")
    parser.add_argument("--persona", default="strong", help="simulated candidate (default strong)")
    args = parser.parse_args()
    configure_logging(ServiceSettings(log_level="WARNING", service_name="bench-voice"))
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as workdir:
        stack = LocalStack(Path(workdir), pool_backend="external", extra_env={"VOICE_HEARTBEAT_SECONDS": "1"})
        print(f"starting the platform (database {stack.database}, namespace {stack.namespace})...",
              file=sys.stderr, flush=True)
        try:
            stack.start()
            print(asyncio.run(bench(stack, args)))
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
