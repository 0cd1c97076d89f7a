"""DistillFSS Studio desktop app (PySide6). Start it with :func:`app.main.run_gui`."""
