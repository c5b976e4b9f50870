"""``python -m bot_orchestrator.worker``: run one bot worker process (``voice bot`` keeps one running)."""

import sys

from bot_orchestrator.worker.process import main

sys.exit(main())
