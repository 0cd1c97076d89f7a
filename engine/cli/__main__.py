"""``python -m engine.cli``: the headless subcommands (no desktop app)."""

import sys

from engine.cli.main import main

sys.exit(main())
