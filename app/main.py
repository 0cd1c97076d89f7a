"""Start the desktop app: ``distillfss`` (no arguments) or ``distillfss gui [FOLDER]``."""

from __future__ import annotations

import contextlib
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication, QMessageBox

from app.style import apply_style
from engine.nn.allocator import keep_freed_memory

if TYPE_CHECKING:
    from app.main_window import MainWindow


def run_gui(folder: str | None = None) -> int:
    """Open the main window (with ``folder`` opened when given); return the exit code."""
    keep_freed_memory()  # before Qt's and the engine's threads start (engine.nn.allocator)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("DistillFSS Studio")
    app.setOrganizationName("DistillFSS")
    try:
        from app.main_window import MainWindow

        apply_style(app)  # type: ignore[arg-type]
        window = MainWindow()
        window.show()
        _open_start_folder(window, folder)
    except Exception as exc:  # noqa: BLE001 - a windowed build has no console: show why
        _startup_error(exc)
        return 1
    return int(app.exec())


def _open_start_folder(window: MainWindow, folder: str | None) -> None:
    settings = window.settings
    if folder is not None:
        if not Path(folder).is_dir():
            QMessageBox.warning(window, "DistillFSS Studio", f"Not a folder: {folder}")
            return
        window.projects.open_folder(folder)
    elif settings.recent_folders and Path(settings.recent_folders[0]).is_dir():
        window.projects.open_folder(settings.recent_folders[0])
    elif not settings.offered_demo:
        settings.offered_demo = True
        answer = QMessageBox.question(
            window, "Welcome to DistillFSS Studio",
            "Open the bundled demo images (24 fluorescence microscopy images of cell nuclei) "
            "to try it out?\n\nYou can open your own folder at any time with File ▸ Open folder.")
        if answer == QMessageBox.StandardButton.Yes:
            window.projects.open_demo()


def _startup_error(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc))
    if sys.stderr is not None:
        print(text, file=sys.stderr)
    with contextlib.suppress(Exception):  # no dialog either: the text went to stderr
        QMessageBox.critical(None, "DistillFSS Studio could not start", text)


if __name__ == "__main__":
    sys.exit(run_gui(sys.argv[1] if len(sys.argv) > 1 else None))
