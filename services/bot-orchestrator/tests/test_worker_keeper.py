"""`voice bot`'s keeper: a recycled or crashed worker is replaced; one that keeps crashing at start is not."""

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot_orchestrator.worker.keeper import EXIT_RECYCLE, MAX_QUICK_CRASHES, keep_warm


@pytest.fixture(autouse=True)
def own_signal_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def worker_exiting_with(statuses: list[int], tmp_path: Path) -> list[str]:
    """A stand-in worker that exits with the next status of ``statuses`` each time it starts."""
    runs = tmp_path / "runs"
    script = tmp_path / "worker.py"
    script.write_text(
        "import pathlib, sys\n"
        f"runs = pathlib.Path({str(runs)!r})\n"
        "n = len(runs.read_text()) if runs.exists() else 0\n"
        "runs.write_text('x' * (n + 1))\n"
        f"sys.exit({statuses!r}[n])\n"
    )
    return [sys.executable, str(script)]


def runs(tmp_path: Path) -> int:
    return len((tmp_path / "runs").read_text())


def test_a_recycled_then_crashed_worker_is_replaced_until_it_exits_cleanly(tmp_path: Path) -> None:
    assert keep_warm(worker=worker_exiting_with([EXIT_RECYCLE, 1, 0], tmp_path)) == 0
    assert runs(tmp_path) == 3


def test_a_worker_that_keeps_crashing_at_start_is_given_up(tmp_path: Path) -> None:
    assert keep_warm(worker=worker_exiting_with([2] * 10, tmp_path)) == 2
    assert runs(tmp_path) == MAX_QUICK_CRASHES


def test_once_runs_a_single_worker(tmp_path: Path) -> None:
    assert keep_warm(once=True, worker=worker_exiting_with([EXIT_RECYCLE, 0], tmp_path)) == EXIT_RECYCLE
    assert runs(tmp_path) == 1
