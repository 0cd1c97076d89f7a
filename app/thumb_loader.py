"""Loads the image list's thumbnails in the background, nearest rows first."""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.image_list import ImageListModel
from app.jobs import Job
from app.thumbs import thumbnail_job
from engine.io.project import Project


class ThumbnailLoader(QObject):
    """Fills ``model`` with thumbnails tinted by the human label (or prediction)."""

    def __init__(self, model: ImageListModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._job: Job | None = None

    def load(self, project: Project) -> None:
        """(Re)load every thumbnail of ``project``."""
        self.stop()
        items = [(p.name, p, project.label_path(p.name), project.prediction_path(p.name))
                 for p in project.images]
        job = self._job = Job(thumbnail_job, items)
        job.yielded.connect(self._on_thumbnail)
        job.finished.connect(lambda _cancelled: self._on_finished(job))

    def stop(self) -> None:
        """Cancel loading (e.g. another folder is opened)."""
        if self._job is not None:
            self._job.detach()
            self._job = None

    @property
    def running(self) -> bool:
        """True while thumbnails are being made."""
        return self._job is not None

    def _on_thumbnail(self, item: tuple) -> None:
        name, thumb, small, error = item
        self.model.set_thumbnail(name, thumb, error)
        if small is not None and not self.model.has_overlay(name):
            self.model.set_overlay(name, small)  # a stroke made meanwhile is newer: keep it

    def _on_finished(self, job: Job) -> None:
        if self._job is job:
            self._job = None
