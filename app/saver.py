"""Saving human labels off the main thread, in order, after every stroke.

The state change happens at once on the main thread (so the list badge is right);
the PNG and the ``project.json`` snapshot are written by one background thread in
submission order, so a crash loses at most the stroke being written.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from engine.io import atomic_write, write_png_atomic
from engine.project import ImageState, Project


class Saver:
    """A single writer thread for label PNGs and project.json."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="distillfss-save")
        self._pending: list[Future[None]] = []
        self.errors: list[str] = []

    def save_label(self, project: Project, name: str, labels: np.ndarray,
                   state: ImageState | None = None) -> ImageState:
        """Queue writing ``labels`` as the human mask of ``name``; return the new state."""
        new_state = state or project.state_after_labelling(name)
        project.set_state(name, new_state, save=False)
        self._submit(project.label_path(name), np.array(labels, np.uint8), project.palette(),
                     project.root / "project.json", project.json_bytes())
        return new_state

    def save_project(self, project: Project) -> None:
        """Queue writing ``project.json`` (after any labels already queued)."""
        self._submit(None, None, None, project.root / "project.json", project.json_bytes())

    def _submit(self, png: Path | None, labels: np.ndarray | None,
                palette: list[tuple[int, int, int]] | None, json_path: Path, text: bytes) -> None:
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._pool.submit(_write, png, labels, palette, json_path, text))

    def flush(self) -> list[str]:
        """Wait for queued writes; return (and clear) the errors seen so far."""
        for future in self._pending:
            exc = future.exception()
            if exc is not None:
                self.errors.append(f"Saving failed: {exc}")
        self._pending = []
        errors, self.errors = self.errors, []
        return errors

    def close(self) -> list[str]:
        """Flush and stop the writer thread."""
        errors = self.flush()
        self._pool.shutdown(wait=True)
        return errors


def _write(png: Path | None, labels: np.ndarray | None,
           palette: list[tuple[int, int, int]] | None, json_path: Path, text: bytes) -> None:
    if png is not None and labels is not None:
        write_png_atomic(png, labels, palette)
    atomic_write(json_path, lambda f: f.write(text))
