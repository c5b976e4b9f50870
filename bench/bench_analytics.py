"""`make bench-analytics`: from a session's end to its analytics.completed, with the heuristic scorer.

Self-contained: `voice run`'s services on a database and bus namespace of their own (no bots). Each
interview is the bundled five-question plan, its segments published as the bot would (the strong or
the weak persona's answers, in turn), then the session is ended through the gateway. The time is from
just before that call to the moment analytics.completed arrives on the bus (one clock, this process):
session-svc's session.ended, transcript-svc's finalisation and transcript.completed, analytics-svc's
reads of the plan and the transcript, the scoring (embedding model included) and its outbox.

1. N interviews one after the other (p50/p95/max);
2. a burst of B interviews ended at once: how long until every one is scored, and the throughput.

    .venv/bin/python bench/bench_analytics.py -n 20 --burst 100
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from voice_cli.simulate.personas import load_persona
from voice_cli.simulate.run import EXAMPLE_CONFIG
from voice_cli.simulate.stack import BusTap, LocalStack
from voice_shared.api.configs import Question
from voice_shared.auth import Role, mint_dev_token
from voice_shared.bus import make_broker, publish_envelope
from voice_shared.contracts import TranscriptSegment, envelope
from voice_shared.testing import auth, session_body

TARGET_P95_S = 2.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def lines(questions: list[Question], persona: str) -> list[tuple[str, str, str | None, str]]:
    """What the bot and the candidate say: each question, then the persona's answer."""
    who = load_persona(persona)
    said: list[tuple[str, str, str | None, str]] = [("bot", "Hello, I'm Ada. Shall we begin?", None, "greeting")]
    for turn, q in enumerate(questions):
        said += [("bot", q.text, q.id, "question"), ("candidate", who.answer(q, turn) or "", q.id, "answer")]
    return said + [("bot", "Thank you, that's all from me.", None, "closing")]


class Bench:
    def __init__(self, stack: LocalStack, client: httpx.AsyncClient, org: UUID, config_id: str,
                 questions: list[Question], tap: BusTap) -> None:
        self.stack, self.client, self.org, self.config_id = stack, client, org, config_id
        self.questions, self.tap = questions, tap
        self.broker = make_broker(stack.settings)

    async def prepared(self, n: int) -> UUID:
        """A session whose transcript segments are all published (not ended yet)."""
        r = await self.client.post(f"/api/voice/sessions?orgId={self.org}", json=session_body(self.config_id))
        sid = UUID(r.json()["id"])
        for sequence, (speaker, text, qid, kind) in enumerate(lines(self.questions, ("strong", "weak")[n % 2])):
            segment = TranscriptSegment(session_id=sid, sequence=sequence, speaker=speaker, text=text,  # type: ignore[arg-type]
                                        start_ms=4000 * sequence, end_ms=4000 * sequence + 3500, question_id=qid,
                                        follow_up_index=0 if qid else None, kind=kind)
            event = envelope(segment, org_id=self.org, session_id=sid)
            await publish_envelope(self.broker, self.stack.namespace, event)
        return sid

    async def segments_stored(self, sids: list[UUID]) -> None:
        """Until transcript-svc holds every segment (so the end measures finalising, not a queue)."""
        expected = len(lines(self.questions, "strong"))
        token = mint_dev_token(self.stack.settings, "bench", service="bench", ttl_seconds=600)
        transcripts = self.stack.gateway_url_for(self.stack.ports["transcript-svc"])
        async with httpx.AsyncClient(base_url=transcripts, headers=auth(token)) as ts:
            for sid in sids:
                while True:
                    r = await ts.get(f"/internal/sessions/{sid}/segments", params={"orgId": str(self.org)})
                    if r.status_code == 200 and len(r.json()["segments"]) == expected:
                        break
                    await asyncio.sleep(0.05)

    async def end_and_wait(self, sids: list[UUID], timeout: float = 300) -> list[float]:  # noqa: ASYNC109
        """End every session at once; seconds from each end call to its analytics.completed."""
        ended: dict[UUID, float] = {}

        async def end(sid: UUID) -> None:
            ended[sid] = time.monotonic()
            r = await self.client.post(f"/api/voice/sessions/{sid}/cancel?orgId={self.org}")
            assert r.status_code == 200, r.text

        await asyncio.gather(*(end(s) for s in sids))

        def scored() -> dict[UUID, float] | None:
            seen = {s: e.at for s in sids for e in self.tap.of("analytics.completed", s)[:1]}
            return seen if len(seen) == len(sids) else None

        seen = await self.tap.wait_for(scored, timeout)
        return [seen[s] - ended[s] for s in sids]


async def run(args: argparse.Namespace) -> int:
    config: dict[str, Any] = json.loads(EXAMPLE_CONFIG.read_text())
    config["name"] = f"bench {uuid.uuid4().hex[:8]}"
    questions = [Question.model_validate(q) for q in config["questions"]]
    with tempfile.TemporaryDirectory(prefix="voice-bench-analytics-") as workdir:
        stack = LocalStack(Path(workdir), extra_env={"VOICE_LOG_LEVEL": "WARNING"})
        print("starting the platform (voice run, no bots)...", file=sys.stderr)
        await asyncio.to_thread(stack.start)
        tap = await BusTap(stack.amqp_url, stack.namespace).start()
        try:
            org = uuid.uuid4()
            token = mint_dev_token(stack.settings, "bench-admin", {org: Role.org_admin}, ttl_seconds=3600)
            async with httpx.AsyncClient(base_url=stack.gateway_url, headers=auth(token), timeout=60) as client:
                created = (await client.post(f"/api/voice/configs?orgId={org}", json=config)).json()
                bench = Bench(stack, client, org, created["id"], questions, tap)
                await bench.broker.connect()
                one_by_one: list[float] = []
                for n in range(args.n):
                    sid = await bench.prepared(n)
                    await bench.segments_stored([sid])
                    one_by_one += await bench.end_and_wait([sid])
                print(f"  sequential: {len(one_by_one)} scored", file=sys.stderr)
                sids = [await bench.prepared(n) for n in range(args.burst)]
                await bench.segments_stored(sids)
                began = time.monotonic()
                burst = await bench.end_and_wait(sids)
                wall = time.monotonic() - began
                scores = [e.payload["overall_score"] for e in tap.of("analytics.completed")]
                await bench.broker.stop()
        finally:
            await tap.stop()
            await asyncio.to_thread(stack.stop)

    print(f"\nSession end -> analytics.completed, heuristic scorer, {len(questions)}-question interviews "
          "(strong and weak answers in turn), one analytics-svc process\n")
    print(f"{'run':<26} {'n':>5} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'throughput':>14}")
    print(f"{'one after the other':<26} {len(one_by_one):>5} {statistics.median(one_by_one):>7.2f} "
          f"{percentile(one_by_one, 95):>7.2f} {max(one_by_one):>7.2f} {'':>14}")
    print(f"{'burst, ended at once':<26} {len(burst):>5} {statistics.median(burst):>7.2f} "
          f"{percentile(burst, 95):>7.2f} {max(burst):>7.2f} {len(burst) / wall:>9.1f} /s")
    print(f"\nscores: strong {max(scores):.0f}, weak {min(scores):.0f}; target p95 <= {TARGET_P95_S:g} s "
          f"one after the other: {'met' if percentile(one_by_one, 95) <= TARGET_P95_S else 'NOT met'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20, help="interviews scored one after the other")
    parser.add_argument("--burst", type=int, default=100, help="interviews ended at once")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
