"""`voice run`'s supervisor: a child that dies is restarted with backoff, the others are left alone."""

import signal
import sys
import time

from voice_cli.supervisor import RestartPolicy, Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def test_restart_delays_double_up_to_the_cap() -> None:
    policy = RestartPolicy(first=0.5, cap=30.0)
    assert [policy.delay(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_killed_child_is_restarted_after_its_delay_and_the_others_keep_running() -> None:
    clock, lines = Clock(), []
    supervisor = Supervisor(clock=clock, report=lines.append, policy=RestartPolicy(first=0.5, cap=30, stable=60))
    victim = supervisor.start("session-svc", "", SLEEPER, {})
    other = supervisor.start("gateway", "", SLEEPER, {})
    try:
        first_pid, other_pid = victim.process.pid, other.process.pid
        for restart in (1, 2, 3):
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait()
            supervisor.supervise_once()
            delay = 0.5 * 2 ** (restart - 1)
            assert victim.restart_at == clock.now + delay
            assert lines[-1] == f"session-svc exited (killed by SIGKILL); restart {restart} in {delay:g} s"
            clock.now = victim.restart_at - 0.01
            supervisor.supervise_once()
            assert victim.exited() is not None  # not before its delay
            clock.now += 0.02
            supervisor.supervise_once()
            assert victim.exited() is None and victim.process.pid != first_pid
        assert other.process.pid == other_pid and other.exited() is None and len(lines) == 3

        clock.now += 61  # up long enough: the next crash starts from the shortest delay again
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        supervisor.supervise_once()
        assert lines[-1].endswith("restart 1 in 0.5 s")
    finally:
        supervisor.stop_all()
    assert victim.exited() is not None and other.exited() is not None


def test_a_child_that_exits_on_its_own_is_restarted_too() -> None:
    supervisor = Supervisor(report=lambda _: None, policy=RestartPolicy(first=0.01))
    child = supervisor.start("bot-1", "", [sys.executable, "-c", "raise SystemExit(3)"], {})
    try:
        deadline = time.monotonic() + 30
        while child.restarts < 2 and time.monotonic() < deadline:
            supervisor.supervise_once()
            time.sleep(0.02)
        assert child.restarts >= 2
    finally:
        supervisor.stop_all()
