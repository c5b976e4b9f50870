"""``voice bot``: keep one bot worker process running, starting a fresh one after each recycle.

Deliberately light (no Pipecat, no models): this parent only starts, watches and signals the worker.
"""

import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

EXIT_RECYCLE = 3  # the worker's "start a fresh process in my place"
QUICK_CRASH_SECONDS = 30.0
MAX_QUICK_CRASHES = 3
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child: SIGTERM when the keeper dies, so a killed keeper leaves no worker behind (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


WORKER = (sys.executable, "-m", "bot_orchestrator.worker")


def keep_warm(once: bool = False, worker: Sequence[str] = WORKER) -> int:
    """Run ``python -m bot_orchestrator.worker`` until stopped, replacing it when it recycles or crashes.

Returns the worker's exit status if it keeps crashing right after start.
"""
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _: Any) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    quick_crashes = 0
    while True:
        started = time.monotonic()
        # A session of its own: a terminal's Ctrl-C reaches the worker once, forwarded by us.
        child = subprocess.Popen(list(worker), start_new_session=True,
                                 preexec_fn=die_with_parent)
        code = child.wait()
        if stopping or once or code == 0:
            return 0 if stopping else code
        if code == EXIT_RECYCLE:
            quick_crashes = 0
            print("voice bot: the worker recycled itself; starting a fresh one", file=sys.stderr, flush=True)
            continue
        # A crash mid-interview: its unacked job goes back to the queue; keep a bot warm for it.
        # Crashing again and again right after start (no broker, broken install) is given up.
        quick_crashes = quick_crashes + 1 if time.monotonic() - started < QUICK_CRASH_SECONDS else 0
        if quick_crashes >= MAX_QUICK_CRASHES:
            return code
        print(f"voice bot: the worker exited with status {code}; starting a fresh one",
              file=sys.stderr, flush=True)
        time.sleep(quick_crashes)
