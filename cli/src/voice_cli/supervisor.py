"""Child processes of `voice run`: start them, restart the ones that die, stop them all together.

A child that exits while `voice run` is not stopping is restarted after a delay that doubles with
each crash (``RestartPolicy``), as the kubelet does with a crashing container; a child that stayed
up long enough starts again from the shortest delay. Only Ctrl-C or SIGTERM stops everything.
"""

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType

import httpx


@dataclass(frozen=True)
class RestartPolicy:
    """Delays between restarts: ``first`` doubling up to ``cap``; reset after ``stable`` seconds up."""

    first: float = 0.5
    cap: float = 30.0
    stable: float = 60.0

    def delay(self, restarts: int) -> float:
        """The wait before restart number ``restarts + 1`` of a child that keeps crashing."""
        return min(self.first * 2**restarts, self.cap)


@dataclass
class Child:
    name: str
    url: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    started_at: float
    restarts: int = 0  # since it last stayed up for the policy's ``stable`` seconds
    restart_at: float | None = None  # when a crashed child is due to start again

    def exited(self) -> int | None:
        return self.process.poll()


class StopRequest:
    """Records SIGINT/SIGTERM instead of raising, so shutdown runs in one place."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def install(self) -> "StopRequest":
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        self.signal = signum

    def __bool__(self) -> bool:
        return self.signal is not None


def describe_exit(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"status {status}"


@dataclass
class Supervisor:
    """The platform's processes; ``supervise_once`` restarts the dead, ``stop_all`` ends them all."""

    stop_timeout: float = 10.0
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    clock: Callable[[], float] = time.monotonic
    report: Callable[[str], None] = lambda line: print(f"voice run: {line}", file=sys.stderr, flush=True)
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, url: str, argv: list[str], env: Mapping[str, str]) -> Child:
        child = Child(name, url, list(argv), dict(env), self._spawn(argv, env), self.clock())
        self.children.append(child)
        return child

    @staticmethod
    def _spawn(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        # A session of their own: Ctrl-C in the terminal reaches only us, and we stop the
        # children once, in order, instead of each of them racing its own shutdown.
        return subprocess.Popen(argv, env=dict(env), start_new_session=True)

    def supervise_once(self) -> None:
        """Schedule a restart for each child that died; start those whose delay has passed."""
        now = self.clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.process = self._spawn(child.argv, child.env)
                    child.started_at, child.restart_at = now, None
                continue
            status = child.exited()
            if status is None:
                continue
            if now - child.started_at >= self.policy.stable:
                child.restarts = 0
            delay = self.policy.delay(child.restarts)
            child.restarts += 1
            child.restart_at = now + delay
            self.report(f"{child.name} exited ({describe_exit(status)}); restart {child.restarts} in {delay:g} s")

    def wait_healthy(self, stop: StopRequest, timeout: float = 60.0, children: list[Child] | None = None,
                     probe: str = "/healthz") -> None:
        """Poll ``probe`` (/healthz) of every child (or of ``children``) until all answer 200, restarting
        any that die meanwhile.

        Raises TimeoutError naming the services still not answering after ``timeout``.
        """
        waiting = [c for c in (children if children is not None else self.children) if c.url]
        deadline = self.clock() + timeout
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while waiting and not stop:
                self.supervise_once()
                waiting = [c for c in waiting if c.restart_at is not None or not _healthy(client, c.url + probe)]
                if waiting and self.clock() > deadline:
                    names = ", ".join(c.name for c in waiting)
                    raise TimeoutError(f"no 200 from {probe} of {names} after {timeout:.0f} s")
                if waiting:
                    time.sleep(0.2)

    def stop_all(self) -> None:
        alive = [c for c in self.children if c.restart_at is None and c.exited() is None]
        for child in alive:
            child.process.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for child in alive:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def _healthy(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False
