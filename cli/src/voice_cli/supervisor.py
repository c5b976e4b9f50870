"""Child processes of `voice run`: start them, watch them, stop them all together."""

import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType

import httpx


@dataclass
class Child:
    name: str
    url: str
    process: subprocess.Popen[bytes]

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


class Supervisor:
    """The platform's processes; ``stop_all`` terminates, waits, then kills stragglers."""

    def __init__(self, stop_timeout: float = 10.0) -> None:
        self.children: list[Child] = []
        self.stop_timeout = stop_timeout

    def start(self, name: str, url: str, argv: list[str], env: Mapping[str, str]) -> Child:
        # A session of their own: Ctrl-C in the terminal reaches only us, and we stop the
        # children once, in order, instead of each of them racing its own shutdown.
        process = subprocess.Popen(argv, env=dict(env), start_new_session=True)
        child = Child(name, url, process)
        self.children.append(child)
        return child

    def first_exited(self) -> Child | None:
        return next((c for c in self.children if c.exited() is not None), None)

    def wait_healthy(self, stop: StopRequest, timeout: float = 60.0) -> Child | None:
        """Poll every /healthz until all answer; returns a child that exited first, if any.

        Raises TimeoutError naming the services still silent after ``timeout``.
        """
        waiting = list(self.children)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while waiting and not stop:
                if (dead := self.first_exited()) is not None:
                    return dead
                waiting = [c for c in waiting if not _healthy(client, c.url)]
                if waiting and time.monotonic() > deadline:
                    names = ", ".join(c.name for c in waiting)
                    raise TimeoutError(f"no answer from /healthz of {names} after {timeout:.0f} s")
                if waiting:
                    time.sleep(0.2)
        return None

    def stop_all(self) -> None:
        alive = [c for c in self.children if c.exited() is None]
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
        return client.get(f"{url}/healthz").status_code == 200
    except httpx.HTTPError:
        return False
