"""The `voice` command: tokens that services accept, and `voice run` failing or serving."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from voice_cli.infra import DEFAULT_SUPERUSER_URL, consumer_timeout_problem
from voice_cli.main import main
from voice_cli.registry import SERVICES
from voice_shared.auth import Role, TokenVerifier
from voice_shared.errors import Unauthorized
from voice_shared.settings import ServiceSettings

VOICE = [sys.executable, "-m", "voice_cli"]


async def test_token_verifies_and_carries_the_claims(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOICE_JWT_SECRET", "cli-test-secret-" + uuid.uuid4().hex)
    org, workspace = uuid.uuid4(), uuid.uuid4()

    status = main(["token", "--org", str(org), "--user", "alice", "--role", "org_owner",
                   "--platform-admin", "--workspace", str(workspace), "--ttl", "60"])
    token = capsys.readouterr().out.strip()

    assert status == 0
    principal = await TokenVerifier(ServiceSettings()).verify(token)
    assert principal.sub == "alice" and principal.orgs == {org: Role.org_owner}
    assert principal.workspaces == {workspace} and principal.platform_admin
    with pytest.raises(Unauthorized):  # signed with VOICE_JWT_SECRET, not the default
        await TokenVerifier(ServiceSettings(jwt_secret=SecretStr("another-secret-of-at-least-32-bytes!"))).verify(token)


def test_run_with_unreachable_postgres_names_the_url() -> None:
    url = "postgresql+asyncpg://voice_app@127.0.0.1:1/voice"
    # DOCKER_HOST pointing nowhere: where the docker package is installed, no containers start.
    env = {**os.environ, "VOICE_DATABASE_URL": url, "DOCKER_HOST": "unix:///nonexistent.sock"}

    done = subprocess.run([*VOICE, "run"], env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert url in done.stderr and "VOICE_DATABASE_URL" in done.stderr
    assert "pg_ctlcluster" in done.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.e2e
@pytest.mark.slow
def pid_listening_on(port: int) -> int:
    """The `voice run` child serving ``port`` (its command line names the port)."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"uvicorn" in argv and str(port).encode() in argv:
            return int(proc.name)
    raise AssertionError(f"no process serves port {port}")


@pytest.mark.chaos
def test_run_serves_every_service_restarts_one_that_is_killed_and_stops_on_sigint(
    platform_env: dict[str, str], tmp_path: Path, fault_report: Any
) -> None:
    ports = {s.name: free_port() for s in SERVICES}
    env = {
        **os.environ,
        **{f"VOICE_{key.upper()}": value for key, value in platform_env.items()},
        **{f"{s.env_prefix}_PORT": str(ports[s.name]) for s in SERVICES},
        "VOICE_SUPERUSER_DATABASE_URL": os.environ.get("VOICE_TEST_PG", DEFAULT_SUPERUSER_URL),
    }
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen([*VOICE, "run"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "The platform is running" not in log.read_text():
            assert run.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

        for service in SERVICES:
            assert httpx.get(f"http://127.0.0.1:{ports[service.name]}/healthz").status_code == 200
        gateway = ports["gateway"]
        assert httpx.get(f"http://127.0.0.1:{gateway}/openapi.json").status_code == 200
        assert f"http://127.0.0.1:{gateway}/openapi.json" in log.read_text()

        # One service killed: it comes back, the others were never stopped, `voice run` goes on.
        others = {s.name: pid_listening_on(ports[s.name]) for s in SERVICES if s.name != "session-svc"}
        os.kill(pid_listening_on(ports["session-svc"]), signal.SIGKILL)
        killed_at = time.monotonic()
        while "session-svc exited (killed by SIGKILL); restart 1" not in log.read_text():
            assert run.poll() is None and time.monotonic() < killed_at + 30, log.read_text()
            time.sleep(0.1)
        while not _answers(f"http://127.0.0.1:{ports['session-svc']}/healthz"):
            assert run.poll() is None and time.monotonic() < killed_at + 60, log.read_text()
            time.sleep(0.1)
        fault_report("kill -9 a service under voice run", sent=1, lost=0, recovery_seconds=time.monotonic() - killed_at)
        assert {name: pid_listening_on(ports[name]) for name in others} == others

        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=30) == 0, log.read_text()
    finally:
        if run.poll() is None:
            run.kill()
    for port in ports.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize(("answer", "warned"), [
    ("{ok,1800000}", True),  # RabbitMQ's default: 30 minutes
    ("{ok,18000000}", False),  # 5 hours: longer than any interview
    ("undefined", False),  # no timeout at all
    ("Error: unable to perform an operation on node", False),  # cannot tell: say nothing
])
def test_a_local_rabbitmq_consumer_timeout_shorter_than_an_interview_is_pointed_out(
    answer: str, warned: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rabbitmqctl = tmp_path / "rabbitmqctl"
    rabbitmqctl.write_text(f"#!/bin/sh\necho '{answer}'\n")
    rabbitmqctl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    problem = consumer_timeout_problem(ServiceSettings(amqp_url="amqp://guest:guest@127.0.0.1:5672/"))

    assert (problem is not None) == warned, problem
    if warned:
        assert problem is not None and "30 min" in problem and "consumer_timeout = 18000000" in problem
    # A broker elsewhere is not this machine's rabbitmqctl's to describe.
    assert consumer_timeout_problem(ServiceSettings(amqp_url="amqp://guest:guest@rabbit.internal:5672/")) is None
