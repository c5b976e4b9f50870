"""`voice`: dev tokens, database and bus setup, and `voice run` (the `make run` entrypoint)."""

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from typing import TypeVar

from voice_cli import infra
from voice_cli.registry import SERVICES, Service
from voice_cli.simulate import cli as simulate_cli
from voice_cli.supervisor import StopRequest, Supervisor
from voice_shared.auth import Role, mint_dev_token
from voice_shared.settings import ServiceSettings

HOST = "127.0.0.1"
T = TypeVar("T")


class CommandFailed(Exception):
    """Ends the command with exit status 1 and this message on stderr."""


def step(description: str, action: Callable[[], T]) -> T:
    """Run one setup step; a failure becomes one readable line instead of a traceback."""
    try:
        return action()
    except Exception as e:  # reported to the user, who can rerun with the cause fixed
        raise CommandFailed(f"{description} failed: {type(e).__name__}: {e}") from e


# --- voice token ------------------------------------------------------------------------------


def cmd_token(args: argparse.Namespace) -> int:
    settings = ServiceSettings()
    if settings.jwks_url:
        print("warning: VOICE_JWKS_URL is set, so services will refuse HS256 dev tokens",
              file=sys.stderr)
    orgs = {args.org: Role(args.role)} if args.org else {}
    print(mint_dev_token(
        settings, args.user, orgs, workspaces=args.workspace, platform_admin=args.platform_admin,
        service=args.service, ttl_seconds=args.ttl,
    ))
    return 0


# --- voice check, db setup, bus declare --------------------------------------------------------


def cmd_check(_: argparse.Namespace) -> int:
    targets = infra.endpoints(ServiceSettings(), infra.superuser_url())
    failures = infra.unreachable(targets)
    for target in targets:
        if target not in failures:
            print(f"ok: {target.kind} at {target.shown()}")
    if failures:
        raise CommandFailed("\n".join(t.problem(e) for t, e in failures.items()))
    if problem := infra.consumer_timeout_problem(ServiceSettings()):
        print(f"warning: {problem}")
    return 0


def setup_database(settings: ServiceSettings) -> None:
    schemas = step("database setup", lambda: asyncio.run(
        infra.setup_database(settings, infra.superuser_url())))
    print(f"database ready: schemas {', '.join(schemas)} migrated to head")


def declare_bus(settings: ServiceSettings) -> None:
    step("bus declaration", lambda: asyncio.run(infra.declare_bus(settings)))
    print(f"bus ready: exchanges and queues of namespace {settings.bus_namespace!r} declared")


def cmd_db_setup(_: argparse.Namespace) -> int:
    setup_database(ServiceSettings())
    return 0


def cmd_bus_declare(_: argparse.Namespace) -> int:
    declare_bus(ServiceSettings())
    return 0


# --- voice run ----------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    with ExitStack() as containers:
        settings = ensure_servers(containers)
        setup_database(settings)
        declare_bus(settings)
        if problem := infra.consumer_timeout_problem(settings):
            print(f"warning: {problem}")
        if args.bots is not None:  # the orchestrator's warm pool
            os.environ["VOICE_POOL_MIN_IDLE"] = str(args.bots)
        return serve(settings, args.startup_timeout)


def ensure_servers(containers: ExitStack) -> ServiceSettings:
    """Settings whose Postgres and RabbitMQ answer, started in containers if needed and possible."""
    settings = ServiceSettings()
    failures = infra.unreachable(infra.endpoints(settings, infra.superuser_url()))
    if not failures:
        return settings
    problems = "\n".join(t.problem(e) for t, e in failures.items())
    if not infra.docker_available():
        raise CommandFailed(problems + "\n(No Docker engine answered, so no containers either.)")
    print(f"{problems}\nStarting containers instead (Docker is available)...")
    env = step("starting containers",
               lambda: infra.start_containers(containers, {t.kind for t in failures}, settings))
    # The children inherit this environment, so they use the containers too.
    os.environ.update(env)
    return ServiceSettings()


WARM_TIMEOUT_SECONDS = 300.0  # the first warm-up of a fresh machine loads every model from disk


def service_url(service: Service) -> str:
    return f"http://{HOST}:{service.port(os.environ)}"


def child_env(service: Service) -> dict[str, str]:
    """The inherited environment, plus where every service listens (VOICE_<SERVICE>_URL)."""
    env = dict(os.environ)
    env.update({f"{s.env_prefix}_URL": service_url(s) for s in SERVICES})
    env.update({"VOICE_HOST": HOST, "VOICE_PORT": str(service.port(os.environ))})
    return env


def serve(settings: ServiceSettings, startup_timeout: float) -> int:
    stop = StopRequest().install()
    supervisor = Supervisor()
    try:
        for service in SERVICES:
            argv = [sys.executable, "-m", "uvicorn", "--factory", service.factory,
                    "--host", HOST, "--port", str(service.port(os.environ)),
                    "--log-level", "warning"]
            supervisor.start(service.name, service_url(service), argv, child_env(service))
        step("startup", lambda: supervisor.wait_healthy(stop, startup_timeout))
        # The orchestrator starts the warm bots: ready only once they have loaded their models, so the
        # first interview after the banner starts at once.
        orchestrator = next(c for c in supervisor.children if c.name == "bot-orchestrator")
        step("warming the bot pool", lambda: supervisor.wait_healthy(stop, WARM_TIMEOUT_SECONDS, [orchestrator],
                                                                     "/readyz"))
        if not stop:
            print(banner(settings), flush=True)
        # A service that dies is restarted (with backoff) and reported; only Ctrl-C stops them all.
        while not stop:
            time.sleep(0.2)
            supervisor.supervise_once()
        print("stopping...", flush=True)
        return 0
    finally:
        supervisor.stop_all()


def banner(settings: ServiceSettings) -> str:
    org = uuid.uuid4()
    token = mint_dev_token(settings, "dev-admin", {org: Role.org_admin})
    gateway = next((s for s in SERVICES if s.public), SERVICES[0])
    lines = ["", "The platform is running (Ctrl-C stops it):"]
    for service in SERVICES:
        extra = f"  OpenAPI {service_url(service)}/openapi.json" if service.public else "  internal"
        lines.append(f"  {service.name:<17} {service_url(service)}{extra}")
    lines += [
        "",
        "Try it, as an admin of a new organisation (the token is valid for 12 hours):",
        f"  export ORG={org}",
        f"  export TOKEN={token}",
        '  curl -s -H "Authorization: Bearer $TOKEN" '
        f'"{service_url(gateway)}/api/voice/sessions?orgId=$ORG"',
        "Other users: voice token --org $ORG --user bob --role org_user",
        "",
    ]
    return "\n".join(lines)


def cmd_bot(args: argparse.Namespace) -> int:
    from bot_orchestrator.worker.keeper import keep_warm

    return keep_warm(once=args.once)


# --- voice rotate-kek ---------------------------------------------------------------------------


def cmd_rotate_kek(args: argparse.Namespace) -> int:
    """Re-wrap every local secret's data key under VOICE_KEK (old keys in VOICE_PREVIOUS_KEKS)."""
    from session_svc.credentials.local import Keyring, LocalEnvelopeStore
    from session_svc.credentials.rotation import RotationReport, rotate_kek
    from session_svc.settings import SessionSettings
    from voice_shared.db import make_engine, make_sessionmaker

    settings = step("reading VOICE_KEK and VOICE_PREVIOUS_KEKS", SessionSettings)
    keyring = Keyring.from_settings(settings)
    others = [k for k in keyring.ids if k != keyring.primary_id]
    print(f"re-wrapping data keys under KEK {keyring.primary_id}; also accepted: "
          f"{', '.join(others) or 'none (set VOICE_PREVIOUS_KEKS to the old key)'}", flush=True)

    def progress(report: RotationReport) -> None:
        print(f"batch {report.batches}: {report.rewrapped} re-wrapped, {report.failed} failed so far",
              flush=True)

    async def rotate() -> RotationReport:
        # The application role, as the services use: Row Level Security applies to every statement.
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            return await rotate_kek(make_sessionmaker(engine), LocalEnvelopeStore(keyring),
                                    batch_size=args.batch_size, on_batch=progress)
        finally:
            await engine.dispose()

    report = step("rotation", lambda: asyncio.run(rotate()))
    print(f"done: {report.rewrapped} re-wrapped, {report.already_current} already current, "
          f"{report.failed} failed, in {report.batches} batches")
    if report.failed:
        ids = ", ".join(str(i) for i in report.failed_ids or [])
        raise CommandFailed(f"{report.failed} secrets opened with none of the configured keys ({ids}); "
                            "add their KEK to VOICE_PREVIOUS_KEKS and run again, or re-enter them")
    return 0


# --- the parser -------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="voice", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    token = commands.add_parser("token", help="print a signed development token (HS256)")
    token.add_argument("--org", type=uuid.UUID, help="organisation id the user belongs to")
    token.add_argument("--user", required=True, help="subject (user id)")
    token.add_argument("--role", choices=[r.value for r in Role], default=Role.org_user.value)
    token.add_argument("--platform-admin", action="store_true")
    token.add_argument("--workspace", type=uuid.UUID, action="append", default=[],
                       help="workspace id (repeatable)")
    token.add_argument("--service", help="service identity, e.g. 'bot' (not for users)")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds (default 12 hours)")
    token.set_defaults(func=cmd_token)

    check = commands.add_parser("check", help="check that Postgres and RabbitMQ answer")
    check.set_defaults(func=cmd_check)

    db = commands.add_parser("db", help="database commands").add_subparsers(
        dest="db_command", required=True)
    db.add_parser("setup", help="create roles, database and schemas; run every migration"
                  ).set_defaults(func=cmd_db_setup)

    bus = commands.add_parser("bus", help="message bus commands").add_subparsers(
        dest="bus_command", required=True)
    bus.add_parser("declare", help="declare exchanges, queues and dead-letter queues"
                   ).set_defaults(func=cmd_bus_declare)

    run = commands.add_parser("run", help="set up and start every service (make run)")
    run.add_argument("--startup-timeout", type=float, default=60.0,
                     help="seconds to wait for every /healthz")
    run.add_argument("--bots", type=int, default=None,
                     help="warm bots the orchestrator keeps (default VOICE_POOL_MIN_IDLE, else 2)")
    run.set_defaults(func=cmd_run)

    bot = commands.add_parser("bot", help="run a warm bot worker that conducts interviews",
                              description="Load the voice models, then take interviews from the bot job "
                                          "queue one at a time; after each recycle a fresh worker "
                                          "process takes over.")
    bot.add_argument("--once", action="store_true", help="exit when the worker recycles itself")
    bot.set_defaults(func=cmd_bot)

    rotate = commands.add_parser(
        "rotate-kek", help="re-wrap every locally stored secret under VOICE_KEK",
        description="Re-wrap the data key of every locally encrypted credential under VOICE_KEK, "
                    "batch by batch, each batch in its own transaction; services keep running. "
                    "Order: deploy the new key in VOICE_PREVIOUS_KEKS everywhere, then make it "
                    "VOICE_KEK with the old key in VOICE_PREVIOUS_KEKS, run this, and drop the old "
                    "key when it reports 0 failed. Make a key with `openssl rand -base64 32`.")
    rotate.add_argument("--batch-size", type=int, default=100, help="rows per transaction")
    rotate.set_defaults(func=cmd_rotate_kek)

    simulate_cli.add_parser(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CommandFailed as e:
        print(f"voice {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
