"""The ``distillfss`` command (console script, ``python -m app``, the frozen build): the
headless subcommands of :mod:`engine.cli`, and the desktop app with no command."""

from __future__ import annotations

import sys


def main() -> int:
    """Run the ``distillfss`` command line (the GUI when there are no arguments)."""
    from engine.cli.main import main as cli_main

    return int(cli_main(gui=_run_gui) or 0)


def _run_gui(folder: str | None) -> int:
    """Open the desktop app (Qt is imported only here: the subcommands run without it)."""
    try:
        from app.main import run_gui
    except ImportError as exc:
        from engine.cli.common import CliError

        raise CliError(f"the desktop app cannot start: {exc}") from None
    return run_gui(folder)


if __name__ == "__main__":
    sys.exit(main())
