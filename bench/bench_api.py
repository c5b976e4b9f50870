"""`make bench-api`: sessions created, fetched and listed through the gateway and directly.

Self-contained: sets up a database and bus namespace of its own (``voice_bench``), starts
session-svc and the gateway as real uvicorn processes on 127.0.0.1, runs the same load
against each, prints one table and drops what it created.

    .venv/bin/python bench/bench_api.py -n 500 -c 16
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.engine import make_url

from voice_cli import infra
from voice_cli.main import child_env, service_url
from voice_cli.registry import SERVICES
from voice_cli.supervisor import StopRequest, Supervisor
from voice_shared.auth import Role, mint_dev_token
from voice_shared.dbsetup import drop_database
from voice_shared.settings import ServiceSettings
from voice_shared.testing import auth, config_body, session_body

BENCH_PORTS = {"VOICE_GATEWAY_PORT": "18000", "VOICE_SESSION_SVC_PORT": "18001"}
BENCH_DB = "voice_bench"


@dataclass
class Result:
    target: str
    operation: str
    latencies: list[float]
    elapsed: float
    errors: int
    timings: list[dict[str, float]]  # each response's Server-Timing entries (ms)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed


def server_timing(response: httpx.Response) -> dict[str, float]:
    """``{"gateway": 3.1, "session-svc-db": 0.8, ...}`` from the response's Server-Timing headers."""
    entries = ",".join(response.headers.get_list("server-timing"))
    pairs = (entry.strip().split(";dur=") for entry in entries.split(",") if ";dur=" in entry)
    return {name: float(value) for name, value in pairs}


async def run_load(
    n: int, concurrency: int, request: Callable[[int], Awaitable[httpx.Response]], expected: tuple[int, ...]
) -> tuple[list[float], float, int, list[dict[str, float]]]:
    """Issue ``n`` requests with ``concurrency`` in flight; returns latencies, wall time, errors, timings."""
    latencies: list[float] = []
    timings: list[dict[str, float]] = []
    errors = 0
    next_index = iter(range(n))

    async def worker() -> None:
        nonlocal errors
        for i in next_index:
            started = time.perf_counter()
            response = await request(i)
            latencies.append(time.perf_counter() - started)
            timings.append(server_timing(response))
            if response.status_code not in expected:
                errors += 1
                if errors == 1:
                    print(f"unexpected {response.status_code}: {response.text[:300]}", file=sys.stderr)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, errors, timings


async def bench_target(
    name: str, base_url: str, token: str, org: uuid.UUID, n: int, c: int, mixed_clients: int
) -> list[Result]:
    limits = httpx.Limits(max_connections=max(c, mixed_clients), max_keepalive_connections=max(c, mixed_clients))
    async with httpx.AsyncClient(base_url=base_url, headers=auth(token), limits=limits,
                                 timeout=30.0, trust_env=False) as client:
        q = f"?orgId={org}"
        config = (await client.post(f"/api/voice/configs{q}", json=config_body())).raise_for_status().json()
        ids: list[str] = [""] * n

        async def create(i: int) -> httpx.Response:
            response = await client.post(f"/api/voice/sessions{q}", json=session_body(config["id"]))
            if response.status_code == 201:
                ids[i] = response.json()["id"]
            return response

        async def fetch(i: int) -> httpx.Response:
            return await client.get(f"/api/voice/sessions/{ids[i]}{q}")

        async def list_page(_: int) -> httpx.Response:
            return await client.get(f"/api/voice/sessions{q}&limit=20")

        async def mixed(i: int) -> httpx.Response:
            return await (create(i) if i % 2 else list_page(i))

        results = []
        for operation, request, expected, clients in (
            ("create", create, (201,), c), ("get", fetch, (200,), c), ("list", list_page, (200,), c),
            ("mixed", mixed, (200, 201), mixed_clients),  # half creates, half lists
        ):
            results.append(Result(name, operation, *await run_load(n, clients, request, expected)))
        return results


def table(results: list[Result]) -> str:
    header = (f"{'target':<12} {'operation':<9} {'n':>6} {'req/s':>8} "
              f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(f"{r.target:<12} {r.operation:<9} {len(r.latencies):>6} {r.throughput:>8.1f} "
                     f"{r.percentile(50):>8.1f} {r.percentile(95):>8.1f} {r.percentile(99):>8.1f} {r.errors:>6}")
    direct = {r.operation: r for r in results if r.target == "session-svc"}
    lines += ["", "gateway cost (gateway / session-svc):"]
    for r in results:
        if r.target == "gateway" and r.operation in direct:
            d = direct[r.operation]
            lines.append(f"  {r.operation:<7} p50 x{r.percentile(50) / d.percentile(50):.2f}   "
                         f"p95 x{r.percentile(95) / d.percentile(95):.2f}   "
                         f"throughput x{r.throughput / d.throughput:.2f}")
    lines += ["", "where the time goes (mixed run, medians in ms; Server-Timing of each service):",
              f"{'target':<12} {'client':>8} {'gateway':>8} {'hop':>8} {'session':>8} {'db':>8} {'app':>8}"]
    for r in results:
        if r.operation != "mixed" or not r.timings:
            continue

        def median(values: list[float]) -> float:
            return statistics.median(values) if values else float("nan")

        gateway = [t.get("gateway", float("nan")) for t in r.timings]
        session = [t.get("session-svc", float("nan")) for t in r.timings]
        db = [t.get("session-svc-db", float("nan")) for t in r.timings]
        hop = [g - s for g, s in zip(gateway, session, strict=True)]
        app = [s - d for s, d in zip(session, db, strict=True)]
        shown = ["-" if r.target != "gateway" else f"{median(values):8.2f}" for values in (gateway, hop)]
        lines.append(f"{r.target:<12} {r.percentile(50):8.2f} {shown[0]:>8} {shown[1]:>8} {median(session):8.2f} "
                     f"{median(db):8.2f} {median(app):8.2f}")
    lines.append("hop: the gateway's own time (auth, validation, the forwarded call's overhead); db: time in "
                 "SQL statements; app: session-svc's time outside them (framework, serialisation, auth); "
                 "client: what the benchmark's client saw, queueing included")
    return "\n".join(lines)


async def setup(settings: ServiceSettings) -> None:
    await infra.setup_database(settings, infra.superuser_url())
    await infra.declare_bus(settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="sessions per target (default 500)")
    parser.add_argument("-c", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--mixed-clients", type=int, default=50,
                        help="clients of the mixed create/list run (default 50)")
    args = parser.parse_args()

    # Ports, database and namespace of its own, so it runs beside `make run`.
    os.environ.update(BENCH_PORTS)
    os.environ.setdefault("VOICE_BUS_NAMESPACE", "bench")
    defaults = ServiceSettings()
    for variable, url in (("VOICE_DATABASE_URL", defaults.database_url),
                          ("VOICE_MIGRATION_DATABASE_URL", defaults.migration_database_url)):
        os.environ.setdefault(variable, make_url(url).set(database=BENCH_DB).render_as_string(hide_password=False))
    os.environ.setdefault("VOICE_LOG_LEVEL", "WARNING")

    settings = ServiceSettings()
    asyncio.run(setup(settings))
    supervisor = Supervisor()
    wanted = {s.name: s for s in SERVICES if s.name in ("session-svc", "gateway")}
    try:
        for service in wanted.values():
            argv = [sys.executable, "-m", "uvicorn", "--factory", service.factory, "--host", "127.0.0.1",
                    "--port", str(service.port(os.environ)), "--log-level", "warning", "--no-access-log"]
            supervisor.start(service.name, service_url(service), argv, child_env(service))
        supervisor.wait_healthy(StopRequest(), timeout=60)
        org = uuid.uuid4()
        token = mint_dev_token(settings, "bench-admin", {org: Role.org_admin})
        print(f"{args.n} sessions per target, {args.c} in flight, one org; "
              "session-svc and gateway as one uvicorn process each\n")

        async def both() -> list[Result]:
            results = []
            for name in ("session-svc", "gateway"):
                # Warm up connections and caches, then measure on a fresh org.
                await bench_target(name, service_url(wanted[name]), token, org, min(50, args.n), args.c,
                                   args.mixed_clients)
                fresh = uuid.uuid4()
                fresh_token = mint_dev_token(settings, "bench-admin", {fresh: Role.org_admin})
                results += await bench_target(name, service_url(wanted[name]), fresh_token, fresh, args.n, args.c,
                                              args.mixed_clients)
            return results

        results = asyncio.run(both())
        print(table(results))
        return 1 if any(r.errors for r in results) else 0
    finally:
        supervisor.stop_all()
        if make_url(settings.database_url).database == BENCH_DB:
            asyncio.run(drop_database(infra.superuser_url(), BENCH_DB))


if __name__ == "__main__":
    sys.exit(main())
