"""Saving human labels off the main thread, in order, after every stroke.

The state change happens at once on the main thread (so the list badge is right);
the PNG and the ``project.json`` snapshot are written by one background thread in
submission order, so a crash loses at most the stroke being written.

A write that fails (disk full, folder made read-only) loses nothing: the labels stay in
:attr:`Saver.unsaved` (shown instead of the file when the image is opened again) until
:meth:`Saver.retry` writes them, and the error is reported by :meth:`Saver.take_errors`.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from engine.io.images import atomic_write, write_png_atomic
from engine.io.project import ImageState, Project


class Saver:
    """A single writer thread for label PNGs and project.json."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="distillfss-save")
        self._pending: list[tuple[str | None, Future[None]]] = []
        self.errors: list[str] = []
        # name -> (labels, state) of human labels whose last write failed
        self.unsaved: dict[str, tuple[np.ndarray, ImageState]] = {}
        self._latest: dict[str, int] = {}  # name -> number of its newest queued write
        self._failed: dict[str, int] = {}  # name -> number of the write kept in ``unsaved``
        self._count = 0

    def save_label(self, project: Project, name: str, labels: np.ndarray,
                   state: ImageState | None = None) -> ImageState:
        """Queue writing ``labels`` as the human mask of ``name``; return the new state."""
        new_state = state or project.state_after_labelling(name)
        project.set_state(name, new_state, save=False)
        labels = np.array(labels, np.uint8)
        self._submit(name, (labels, new_state), project.label_path(name), labels,
                     project.palette(), project.root / "project.json", project.json_bytes())
        return new_state

    def clear_label(self, project: Project, name: str, state: ImageState) -> None:
        """Queue removing the human mask of ``name`` (all erased) and setting ``state``."""
        project.set_state(name, state, save=False)
        self._submit(name, None, project.label_path(name), None, None,
                     project.root / "project.json", project.json_bytes())

    def retry(self, project: Project) -> None:
        """Queue the labels whose write failed again (e.g. after space was freed).

        An image with a newer write queued since the failure is skipped: that write holds
        newer labels and decides (re-sending the failed ones would overwrite them)."""
        for name, (labels, state) in list(self.unsaved.items()):
            if self._latest.get(name, 0) > self._failed.get(name, 0):
                continue
            self.save_label(project, name, labels, state)

    def save_project(self, project: Project) -> None:
        """Queue writing ``project.json`` (after any labels already queued)."""
        self._submit(None, None, None, None, None, project.root / "project.json",
                     project.json_bytes())

    def written(self) -> Future[None]:
        """A future done once every write queued so far is done: a worker thread that reads
        the label files waits on it (the main thread never does)."""
        return self._pool.submit(lambda: None)

    def _submit(self, name: str | None, keep: tuple[np.ndarray, ImageState] | None,
                png: Path | None, labels: np.ndarray | None,
                palette: list[tuple[int, int, int]] | None, json_path: Path, text: bytes) -> None:
        self._collect(wait=False)
        self._count += 1
        if name is not None:
            self._latest[name] = self._count
        future = self._pool.submit(self._write, self._count, name, keep, png, labels, palette,
                                   json_path, text)
        self._pending.append((name, future))

    def _write(self, number: int, name: str | None, keep: tuple[np.ndarray, ImageState] | None,
               png: Path | None, labels: np.ndarray | None,
               palette: list[tuple[int, int, int]] | None, json_path: Path, text: bytes) -> None:
        # The outcome is recorded before the future completes (a done-callback could run
        # after flush() returned), and only by the newest write of an image: writes run in
        # submission order, so an older failure never overrides newer labels.
        ok = False
        try:
            _write(png, labels, palette, json_path, text)
            ok = True
        finally:
            newest = name is not None and self._latest.get(name) == number
            if newest and ok:
                self.unsaved.pop(name, None)
            elif newest and keep is not None:
                self.unsaved[name] = keep
                self._failed[name] = number

    def _collect(self, wait: bool) -> None:
        """Move the errors of finished (or, with ``wait``, of all) writes into ``errors``."""
        still = []
        for name, future in self._pending:
            if not wait and not future.done():
                still.append((name, future))
                continue
            exc = future.exception()
            if exc is not None:
                what = f"the labels of {name}" if name else "the project file"
                self.errors.append(f"Saving {what} failed: {exc}")
        self._pending = still

    def take_errors(self) -> list[str]:
        """Errors of the writes finished so far (without waiting); clears them."""
        self._collect(wait=False)
        errors, self.errors = self.errors, []
        return errors

    def flush(self) -> list[str]:
        """Wait for queued writes; return (and clear) the errors seen so far."""
        self._collect(wait=True)
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
    elif png is not None:  # labels None: the mask was cleared
        png.unlink(missing_ok=True)
    atomic_write(json_path, lambda f: f.write(text))
