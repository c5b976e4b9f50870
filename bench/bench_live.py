"""`make bench-live`: the live transcript's publish-to-viewer latency through one gateway process.

Self-contained: `voice run`'s services on a database and bus namespace of their own (no bots), S
sessions, V WebSocket viewers each, and one publisher per session putting transcript.segment events
on the bus at speaking pace (one segment per session every ``--interval`` seconds, 3 by default: an
utterance takes a few seconds to say).
Latency is from just before the publish to the viewer's receipt of that segment, both in this
process (one clock). For each S of the ladder it prints p50/p95/p99/max, then the largest S whose
p99 stays under 100 ms.

    .venv/bin/python bench/bench_live.py --sessions 25,50,100,200 --viewers 5

This process holds every viewer and the publishers: on a 2-core machine it competes with the
gateway, transcript-svc and RabbitMQ for the CPU, so the figures are an upper bound on the latency.
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
from uuid import UUID

import httpx
from websockets.asyncio.client import ClientConnection, connect

from voice_cli.simulate.stack import LocalStack
from voice_shared.auth import Role, mint_dev_token
from voice_shared.bus import make_broker, publish_envelope
from voice_shared.contracts import TranscriptSegment, envelope
from voice_shared.testing import auth, config_body, session_body

TARGET_MS = 100.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def open_viewer(base: str, sid: UUID, org: UUID, token: str) -> ClientConnection:
    ws = await connect(f"{base}/api/voice/sessions/{sid}/live?orgId={org}",
                       subprotocols=["voice-live.v1", f"bearer.{token}"], max_queue=None)  # type: ignore[list-item]
    snapshot = json.loads(await ws.recv())
    assert snapshot["type"] == "snapshot", snapshot
    return ws


async def step(stack: LocalStack, client: httpx.AsyncClient, org: UUID, token: str, sessions: list[UUID],
               viewers: int, segments: int, interval: float) -> tuple[list[float], int]:
    """One rung of the ladder: latencies (ms) of every segment at every viewer, and how many were missed."""
    base = stack.gateway_url.replace("http://", "ws://")
    sent: dict[tuple[UUID, int], float] = {}
    latencies: list[float] = []
    expected = len(sessions) * viewers * segments
    sockets = [(sid, await open_viewer(base, sid, org, token)) for sid in sessions for _ in range(viewers)]

    async def read(sid: UUID, ws: ClientConnection) -> None:
        got = 0
        while got < segments:
            message = json.loads(await ws.recv())
            if message["type"] == "transcript_segment":
                latencies.append((time.perf_counter() - sent[(sid, message["sequence"])]) * 1000)
                got += 1

    broker = make_broker(stack.settings)
    await broker.connect()

    async def speak(sid: UUID, offset: float) -> None:
        await asyncio.sleep(offset)
        for n in range(segments):
            event = TranscriptSegment(session_id=sid, sequence=n, speaker="candidate" if n % 2 else "bot",
                                      text=f"utterance {n} of a live interview, about a dozen words long",
                                      start_ms=n * 3000, end_ms=n * 3000 + 2500)
            sent[(sid, n)] = time.perf_counter()
            await publish_envelope(broker, stack.namespace, envelope(event, org_id=org, session_id=sid))
            await asyncio.sleep(interval)

    readers = [asyncio.create_task(read(sid, ws)) for sid, ws in sockets]
    try:
        await asyncio.gather(*(speak(sid, interval * i / len(sessions)) for i, sid in enumerate(sessions)))
        await asyncio.wait(readers, timeout=10)
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for _, ws in sockets), return_exceptions=True)
        await broker.stop()
    return latencies, expected - len(latencies)


async def run(args: argparse.Namespace) -> int:
    ladder = [int(s) for s in args.sessions.split(",")]
    with tempfile.TemporaryDirectory(prefix="voice-bench-live-") as workdir:
        stack = LocalStack(Path(workdir), extra_env={"VOICE_LOG_LEVEL": "WARNING"})
        print("starting the platform (voice run, no bots)...", file=sys.stderr)
        await asyncio.to_thread(stack.start)
        try:
            org = uuid.uuid4()
            token = mint_dev_token(stack.settings, "bench-admin", {org: Role.org_admin}, ttl_seconds=3600)
            async with httpx.AsyncClient(base_url=stack.gateway_url, headers=auth(token), timeout=30) as client:
                config = (await client.post(f"/api/voice/configs?orgId={org}", json=config_body())).json()
                rows = []
                for count in ladder:
                    sessions = []
                    for _ in range(count):
                        r = await client.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]))
                        sessions.append(UUID(r.json()["id"]))
                    latencies, missed = await step(stack, client, org, token, sessions, args.viewers,
                                                   args.segments, args.interval)
                    rows.append((count, latencies, missed))
                    print(f"  S={count}: {len(latencies)} deliveries, p99 {percentile(latencies, 99):.1f} ms",
                          file=sys.stderr)
        finally:
            await asyncio.to_thread(stack.stop)

    print(f"\nLive transcript, one gateway process: V={args.viewers} viewers per session, one segment per "
          f"session every {args.interval:g} s, {args.segments} per session\n")
    print(f"{'sessions':>8} {'viewers':>8} {'deliveries':>10} {'missed':>6} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8}")
    for count, latencies, missed in rows:
        print(f"{count:>8} {count * args.viewers:>8} {len(latencies):>10} {missed:>6} "
              f"{statistics.median(latencies):>8.1f} {percentile(latencies, 95):>8.1f} "
              f"{percentile(latencies, 99):>8.1f} {max(latencies):>8.1f}")
    within = [count for count, latencies, missed in rows if not missed and percentile(latencies, 99) < TARGET_MS]
    print(f"\nlargest S with p99 < {TARGET_MS:g} ms (V={args.viewers}): {max(within) if within else 'none'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default="25,50,100,200", help="the ladder of S (comma-separated)")
    parser.add_argument("--viewers", type=int, default=5, help="V, viewers per session")
    parser.add_argument("--segments", type=int, default=6, help="segments each session publishes per step")
    # An utterance (a final segment) takes a few seconds to say; 1.0 is a session with interim results too.
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between a session's segments")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
