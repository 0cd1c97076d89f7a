"""DistillFSS Studio desktop app (PySide6). Start it with :func:`app.main.run_gui`."""

from app._pyside_fix import protect_bools

protect_bools()
