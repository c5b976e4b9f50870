"""``voice bot``: keep one bot worker process running, starting a fresh one after each recycle.

Deliberately light (no Pipecat, no models): this parent only starts, watches and signals the worker.
"""

import signal
import subprocess
import sys
from typing import Any

EXIT_RECYCLE = 3  # the worker's "start a fresh process in my place"
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: SIGTERM when the keeper dies, so a killed keeper leaves no worker behind (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def keep_warm(once: bool = False) -> int:
    """Run ``python -m bot_orchestrator.worker`` until stopped; its exit status if it fails."""
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _: Any) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    while True:
        # A session of its own: a terminal's Ctrl-C reaches the worker once, forwarded by us.
        child = subprocess.Popen([sys.executable, "-m", "bot_orchestrator.worker"], start_new_session=True,
                                 preexec_fn=_die_with_parent)
        code = child.wait()
        if stopping or once or code != EXIT_RECYCLE:
            return 0 if stopping else code
        print("voice bot: the worker recycled itself; starting a fresh one", file=sys.stderr, flush=True)
