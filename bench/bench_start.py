"""`make bench-start`: the candidate presses Start -> the interviewer's greeting, with a warm pool and without.

Self-contained: starts `voice run` (its orchestrator keeping ``--warm`` bots, local backend) on a database,
bus namespace and ports of its own, and simulated candidates who open their link, consent, press Start,
join over WebRTC on 127.0.0.1 and listen until the interviewer speaks, then leave (the session is ended, so
its bot is free again). Timed from the moment each candidate pressed Start:

- pick-up: a bot took the session's job (its busy heartbeat; for a queued candidate, the queue wait);
- bot joined: ``bot.joined`` (the candidate's WebRTC connection is up, the bot's pipeline runs);
- SDP answer: the gateway returned the bot's answer to the candidate's offer;
- greeting heard: the first audio of the greeting at the candidate (the headline number).

Scenarios: ``-m`` candidates one after another with the pool warm and the machine quiet (each waits until the
last one's transcript is final and no bot is busy or loading its models: on 2 cores everything shares the
CPU); a burst of ``--burst`` at once (more than the pool: the extra ones queue until a bot is free or the
orchestrator starts another, while finished sessions are scored); then a pool of 0 warm bots (``--cold``
candidates one after another, each waiting for the bot the orchestrator starts for it). Invitations go out
first, as they do in life: the candidates press Start later.

    .venv/bin/python bench/bench_start.py --warm 2 -m 10 --burst 4 --cold 3
"""

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from voice_cli.simulate.candidate import Candidate, TurnTaker, loopback_only
from voice_cli.simulate.personas import load_persona
from voice_cli.simulate.run import EXAMPLE_CONFIG, JoinLink, Organisation, dev_organisation, load_config, percentile
from voice_cli.simulate.speech import Ears, Voice
from voice_cli.simulate.stack import BusTap, LocalStack
from voice_shared.api.configs import Question
from voice_shared.auth import mint_dev_token
from voice_shared.logging import configure_logging
from voice_shared.settings import ServiceSettings

ROWS = ("pick-up (a bot took the job)", "bot joined (bot.joined)", "SDP answer at the candidate",
        "greeting heard by the candidate")
OFFER_RETRY_SECONDS = 0.05
GREETING_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Sample:
    pick_up: float | None
    joined: float | None
    answer: float | None
    greeting: float | None


class Bench:
    def __init__(self, stack: LocalStack, tap: BusTap, client: httpx.AsyncClient, voice: Voice, ears: Ears) -> None:
        self.stack, self.tap, self.client, self.voice, self.ears = stack, tap, client, voice, ears
        self.org_id, token = dev_organisation(stack.settings)
        self.org = Organisation(client, self.org_id, token)
        self.admin = {"Authorization": "Bearer " + mint_dev_token(stack.settings, "bench", {}, platform_admin=True)}
        self.config: dict[str, Any] = load_config(EXAMPLE_CONFIG, 1)
        self.plan = [Question.model_validate(q) for q in self.config["questions"]]
        self.config_id: str | None = None

    async def pool(self) -> dict[str, Any]:
        return dict((await self.client.get("/api/voice/pool", headers=self.admin)).json())

    async def until_pool(self, ready: Any, timeout: float = 300.0) -> dict[str, Any]:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while not ready(pool := await self.pool()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the pool did not get there: {pool}")
            await asyncio.sleep(0.2)
        return pool

    async def quiet(self, last_session: str | None, warm: int) -> None:
        """Until the last session's transcript is final (nothing to score: the candidate only listened) and the
        pool has ``warm`` idle bots and nothing else."""
        if last_session is not None:
            await self.tap.wait_for(lambda: self.tap.of("transcript.completed", last_session), 60)
        await self.until_pool(lambda p: p["byState"].get("idle", 0) >= warm and not p["waiting"]
                              and set(p["byState"]) == {"idle"})

    async def invite(self) -> tuple[str, JoinLink]:
        """A session started (the candidate invited), its link opened and consented to."""
        if self.config_id is None:
            self.config_id = (await self.org.call("POST", "/api/voice/configs", self.config))["id"]
        session = await self.org.call("POST", "/api/voice/sessions", {
            "configId": self.config_id, "interviewType": "bench", "candidateName": "Bench candidate",
            "candidateEmail": f"bench-{uuid.uuid4().hex[:8]}@example.com"})
        sid = session["id"]
        started = await self.org.call("POST", f"/api/voice/sessions/{sid}/start")
        join = JoinLink(self.client, started["joinUrl"])
        await join.open()
        await join.consent()
        return sid, join

    async def candidate(self, invited: tuple[str, JoinLink] | None = None) -> Sample:
        """One candidate (invited now, unless ``invited``): presses Start, hears the greeting, leaves."""
        sid, join = invited or await self.invite()
        stop = asyncio.Event()
        candidate = Candidate(TurnTaker(load_persona("strong"), self.plan), self.voice, self.ears)
        heard: float | None = None
        try:
            with loopback_only():
                await candidate.prepare()  # the page makes its offer during the microphone check
                pressed = time.monotonic()
                await join.start()
                offer = join.offerer(stop, OFFER_RETRY_SECONDS, attempts=round(GREETING_TIMEOUT_SECONDS / 0.05))
                heard = await asyncio.wait_for(candidate.hear_first_speech(offer), GREETING_TIMEOUT_SECONDS)
        finally:
            stop.set()
            await candidate.close()
            await self.org.call("POST", f"/api/voice/sessions/{sid}/end", {"reason": "bench_done"}, ok=(200, 409))
        busy = next((e.at for e in self.tap.of("bot.heartbeat", sid) if e.payload.get("state") == "busy"), None)
        joined = next((e.at for e in self.tap.of("bot.joined", sid)), None)
        return Sample(pick_up=busy - pressed if busy else None, joined=joined - pressed if joined else None,
                      answer=join.answered_at[0] - pressed if join.answered_at else None,
                      greeting=heard - pressed if heard else None)


def table(title: str, samples: Sequence[Sample]) -> str:
    lines = [title, f"  {'Start pressed ->':<40} {'n':>3} {'p50':>9} {'p95':>9} {'max':>9}"]
    for row, values in zip(ROWS, columns(samples), strict=True):
        cells = [_ms(percentile(values, 50)), _ms(percentile(values, 95)), _ms(max(values, default=None))]
        lines.append(f"  {row:<40} {len(values):>3} " + " ".join(f"{c:>9}" for c in cells))
    return "\n".join(lines)


def columns(samples: Sequence[Sample]) -> list[list[float]]:
    return [[v for v in values if v is not None] for values in
            zip(*((s.pick_up, s.joined, s.answer, s.greeting) for s in samples), strict=True)] or [[]] * 4


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


async def run(warm: int, args: argparse.Namespace, voice: Voice, ears: Ears, workdir: Path) -> dict[str, Any]:
    """One stack with ``warm`` warm bots: the scenarios that fit it, and the pool's own figures."""
    env = {"VOICE_HEARTBEAT_SECONDS": "1", "VOICE_LOG_LEVEL": "WARNING",
           "VOICE_POOL_SCALE_DOWN_DELAY_SECONDS": "0" if warm == 0 else "30"}
    stack = LocalStack(workdir / f"warm{warm}", run_bots=warm, extra_env=env)
    print(f"starting the platform with {warm} warm bot(s)...", file=sys.stderr, flush=True)
    await asyncio.to_thread(stack.start, 300)
    tap = await BusTap(stack.amqp_url, stack.namespace).start()
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30.0, trust_env=False) as client:
            bench = Bench(stack, tap, client, voice, ears)
            if warm:
                # Invited first, as candidates are (they press Start when they are ready, later).
                invited = [await bench.invite() for _ in range(args.m + args.burst)]
                sequential = []
                for n in range(args.m):
                    # A quiet machine: the last session's transcript made, no bot busy or loading its models.
                    await bench.quiet(invited[n - 1][0] if n else None, warm)
                    sequential.append(await bench.candidate(invited[n]))
                    print(f"warm candidate {n + 1}/{args.m}: greeting heard after {_ms(sequential[-1].greeting)}",
                          file=sys.stderr, flush=True)
                out["warm"] = sequential
                pool = await bench.until_pool(lambda p: p["byState"].get("idle", 0) >= warm and not p["waiting"])
                out["burst_idle"] = pool["byState"].get("idle", 0)
                print(f"a burst of {args.burst} candidates at once...", file=sys.stderr, flush=True)
                out["burst"] = list(await asyncio.gather(*(bench.candidate(i) for i in invited[args.m:])))
            else:
                cold = []
                for n in range(args.cold):
                    await bench.until_pool(lambda p: p["actual"] == 0 and not p["bots"])
                    print(f"cold candidate {n + 1}/{args.cold}...", file=sys.stderr, flush=True)
                    cold.append(await bench.candidate())
                out["cold"] = cold
            out["pool"] = await bench.pool()
    finally:
        await tap.stop()
        await asyncio.to_thread(stack.stop)
    return out


async def bench(args: argparse.Namespace, workdir: Path) -> str:
    loaded = time.monotonic()
    voice, ears = await asyncio.to_thread(lambda: (Voice(), Ears()))
    print(f"candidate's models loaded in {time.monotonic() - loaded:.1f} s", file=sys.stderr, flush=True)
    warm = await run(args.warm, args, voice, ears, workdir)
    cold = await run(0, args, voice, ears, workdir)
    warm_p50 = percentile(columns(warm["warm"])[3], 50)
    cold_p50 = percentile(columns(cold["cold"])[3], 50)
    ratio = f"{cold_p50 / warm_p50:.1f}x" if warm_p50 and cold_p50 else "-"
    cold_starts = cold["pool"]["recentColdStartsSeconds"] + warm["pool"]["recentColdStartsSeconds"]
    return "\n\n".join([
        f"Start pressed -> greeting, embedded stack (local rooms on 127.0.0.1, Piper, scripted interviewer); "
        f"pool backend local, {args.warm} warm bot(s); 2 cores",
        table(f"Warm: {args.m} candidates one after another, {args.warm} warm bot(s), machine quiet", warm["warm"]),
        table(f"Burst: {args.burst} candidates at once, {warm['burst_idle']} idle bot(s) then (the rest queue, "
              f"or wait for a bot started for them)", warm["burst"]),
        table(f"Cold: {args.cold} candidates one after another, pool of 0 (a bot is started for each)", cold["cold"]),
        f"Greeting heard p50, cold / warm: {ratio}\n"
        f"Bot cold starts measured by the orchestrator (start -> warm): p50 {_ms(percentile(cold_starts, 50))}, "
        f"max {_ms(max(cold_starts, default=None))} ({len(cold_starts)} bots)\n"
        f"Orchestrator's pick-up (dispatch -> a bot took it), warm stack: p50 "
        f"{_ms(warm['pool']['pickUpP50Seconds'])}, p95 {_ms(warm['pool']['pickUpP95Seconds'])}",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=2, help="warm bots (default 2, as `make run`)")
    parser.add_argument("-m", type=int, default=10, help="candidates one after another, warm (default 10)")
    parser.add_argument("--burst", type=int, default=6, help="candidates at once (default 6: more than the pool)")
    parser.add_argument("--cold", type=int, default=3, help="candidates with a pool of 0 (default 3)")
    args = parser.parse_args()
    configure_logging(ServiceSettings(log_level="WARNING", service_name="bench-start"))
    with tempfile.TemporaryDirectory(prefix="bench-start-") as workdir:
        print(asyncio.run(bench(args, Path(workdir))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
