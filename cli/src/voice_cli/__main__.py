"""`python -m voice_cli` is the `voice` command."""

import sys

from voice_cli.main import main

sys.exit(main())
