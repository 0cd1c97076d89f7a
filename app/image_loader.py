"""Opens images for editing: at once when small, on a worker thread when large."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.current import CurrentImage
from app.jobs import Job
from engine.io.images import ImageReadError, read_image_size
from engine.io.project import ImageState, Project

# Images with more pixels are decoded on a worker thread (a 12 MP JPEG plus its label PNG
# take ~0.3 s to read on a laptop, a 50 MP TIFF seconds); smaller ones load at once.
LARGE_IMAGE_PIXELS = 8_000_000


class ImageLoader(QObject):
    """Reads an image with its labels (:meth:`CurrentImage.load`) and emits ``loaded``.

    :meth:`load` emits before it returns for a small image; a large one is read on a worker
    thread and ``loaded`` comes later, unless :meth:`stop` or another :meth:`load` came first.
    """

    loaded = Signal(object)  # CurrentImage

    def __init__(self, parent: QObject | None = None,
                 large_pixels: int = LARGE_IMAGE_PIXELS) -> None:
        super().__init__(parent)
        self.large_pixels = large_pixels  # images with more pixels are read in the background
        self._pending: tuple[str, Job] | None = None

    @property
    def pending(self) -> str | None:
        """Name of the large image being read, or None."""
        return self._pending[0] if self._pending is not None else None

    def load(self, project: Project, name: str,
             unsaved: dict[str, tuple[np.ndarray, ImageState]]) -> bool:
        """Read ``name`` (dropping any pending read); True when it is read in the background.

        ``unsaved``: labels whose write failed (``Saver.unsaved``), copied here."""
        self.stop()
        unsaved = dict(unsaved)
        if not _is_large(project, name, self.large_pixels):
            self.loaded.emit(CurrentImage.load(project, name, unsaved))
            return False
        job = Job(CurrentImage.load, project, name, unsaved)
        self._pending = (name, job)
        job.returned.connect(lambda cur: self._done(job, cur))
        job.errored.connect(lambda msg: self._done(
            job, CurrentImage(name, None, None, None, error=msg)))
        return True

    def stop(self) -> None:
        """Drop the pending read, if any (its result is never emitted)."""
        if self._pending is not None:
            self._pending[1].detach()
            self._pending = None

    def _done(self, job: Job, cur: CurrentImage) -> None:
        if self._pending is not None and self._pending[1] is job:
            self._pending = None
            self.loaded.emit(cur)


def _is_large(project: Project, name: str, limit: int) -> bool:
    """Whether image ``name`` has more than ``limit`` pixels (header only; an
    unreadable header counts as small: the synchronous read then reports the error)."""
    try:
        w, h = read_image_size(project.image_path(name))
    except (ImageReadError, OSError, ValueError):
        return False
    return w * h > limit
