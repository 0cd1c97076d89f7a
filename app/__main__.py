"""``python -m app`` and the frozen build's entry point: the ``distillfss`` command."""

from __future__ import annotations

import sys


def main() -> int:
    """Run the ``distillfss`` command line (the GUI when there are no arguments)."""
    try:
        from engine.cli import main as cli_main
    except ImportError:  # a source tree without the CLI yet: open the GUI directly
        from app.main import run_gui

        return run_gui(sys.argv[1] if len(sys.argv) > 1 else None)
    return int(cli_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
