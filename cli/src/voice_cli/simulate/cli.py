"""The `voice simulate` command."""

import argparse
import asyncio
import json
import logging
import os
import sys
import uuid
from pathlib import Path

import httpx

from voice_cli.simulate.personas import load_persona, persona_names
from voice_cli.simulate.run import (
    EXAMPLE_CONFIG,
    SimulationError,
    SimulationResult,
    dev_organisation,
    load_config,
    report,
    simulate,
)
from voice_shared.logging import configure_logging
from voice_shared.settings import ServiceSettings


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "simulate", help="run a simulated candidate through an interview (local WebRTC, Whisper, Piper)",
        description="Create a config and a session through the gateway, start it, join as the candidate "
                    "through the local room, answer by voice as the persona, and print the transcript, "
                    "timings and outcome. Needs the platform running (`voice run`) with a bot worker.",
    )
    parser.add_argument("--config", type=Path, default=EXAMPLE_CONFIG,
                        help="interview config (JSON, camelCase as the API takes it; default: a bundled "
                             "five-question backend screening)")
    parser.add_argument("--persona", default="strong",
                        help=f"{', '.join(persona_names())}, or a persona .json file (default: strong)")
    parser.add_argument("--questions", type=int, help="use only the config's first N questions")
    parser.add_argument("--gateway", default=os.environ.get("VOICE_GATEWAY_URL", "http://127.0.0.1:8000"),
                        help="the gateway's URL (default: $VOICE_GATEWAY_URL or http://127.0.0.1:8000)")
    parser.add_argument("--org", type=uuid.UUID,
                        help="organisation to act in (default: a new one); the token is a dev token "
                             "signed with VOICE_JWT_SECRET")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before the session is ended")
    parser.add_argument("--score-wait", type=float, default=20.0, help="seconds to wait for analytics")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--verbose", action="store_true", help="log what the candidate hears and does")
    parser.epilog = "Exit status 0 when the session completed, 1 otherwise (or when the simulation failed)."
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from voice_cli.main import CommandFailed, step
    from voice_cli.simulate.speech import Ears, Voice

    settings = ServiceSettings(log_level="INFO" if args.verbose else "WARNING", service_name="simulator")
    configure_logging(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        persona = load_persona(args.persona)
        config = load_config(args.config, args.questions)
    except (ValueError, OSError, SimulationError) as e:
        raise CommandFailed(str(e)) from e
    org_id, token = dev_organisation(settings, args.org)
    print(f"loading the voice models; persona {persona.name!r}, {len(config['questions'])} questions",
          file=sys.stderr, flush=True)
    voice, ears = step("loading Piper and Whisper", lambda: (Voice(), Ears()))

    async def run() -> SimulationResult:
        async with httpx.AsyncClient(base_url=args.gateway, timeout=30.0, trust_env=False) as client:
            return await simulate(client, org_id, token, config, persona, voice=voice, ears=ears,
                                  timeout_seconds=args.timeout, score_wait_seconds=args.score_wait,
                                  on_started=lambda sid: print(f"session {sid} started; joining",
                                                               file=sys.stderr, flush=True))

    try:
        result = asyncio.run(run())
    except (SimulationError, httpx.HTTPError) as e:
        raise CommandFailed(f"{type(e).__name__}: {e}") from e
    print(json.dumps(result.to_json(), indent=2) if args.json else report(result))
    # For scripts: 0 only when the interview reached its normal end.
    return 0 if result.status == "completed" else 1
