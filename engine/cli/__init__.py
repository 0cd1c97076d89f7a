"""The headless ``distillfss`` subcommands (``learn``, ``label``, ``eval``, ``demo``,
``export``, ``import``): :func:`engine.cli.main.main`.  ``python -m engine.cli`` runs them;
the ``distillfss`` console script (``app/__main__.py``) adds the desktop app."""
