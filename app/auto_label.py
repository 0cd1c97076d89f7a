"""Auto-label folder: every image without a human label is predicted in a worker thread
(:func:`app.jobs.auto_label_job`); these slots apply each image's small result (state,
thumbnail overlay, the shown image's prediction) and, at the end, the model's own IoU
expectation over the images it labelled (:mod:`engine.learning.estimate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from app.job_panel import format_eta
from app.jobs import Job, LabelUpdate, Status
from app.session import LABEL
from engine.infer.expected import ExpectedIoU
from engine.io.project import ImageState
from engine.learning.estimate import no_estimate_reason

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from app.model_controller import ModelController


class AutoLabel(QObject):
    """Runs the auto-label job of :class:`app.model_controller.ModelController`'s session
    and shows its progress with that controller's views."""

    labelled = Signal(bool)        # auto-labelling ended (True = cancelled)

    def __init__(self, models: ModelController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models = models
        self.session = models.session
        self._parent = parent
        self.job: Job | None = None
        self._expected: ExpectedIoU | None = None  # over the running job's images
        self._flip_average = False  # the running job's setting
        self._counts_timer = QTimer(self, singleShot=True, interval=250)
        self._counts_timer.timeout.connect(self._refresh_counts)

    def start(self) -> None:
        """Predict every image without a human label, in the background."""
        project, session = self.models.project, self.session
        if project is None or session.busy:
            return
        if project.read_only:
            QMessageBox.information(self._parent, "Auto-label", "This folder is open "
                                    "read-only: auto-labelling needs a project this window "
                                    "can write to.")
            return
        if project.model_path is None:
            QMessageBox.information(self._parent, "Auto-label", "Learn a class first.")
            return
        names = project.names_with(ImageState.UNLABELLED, ImageState.PREDICTED)
        thumbs = self.models.views.image_panel.model
        shapes = {n: s for n in names if (s := thumbs.thumb_shape(n))}
        title = f"Auto-labelling {len(names)} images…"
        self.models.views.job_panel.set_busy(title)
        self._expected = None  # the model's own IoU expectation over the images labelled
        self._flip_average = session.settings.flip_average
        job = self.job = Job(session.worker("auto_label"), project.model_path,
                             [project.image_path(n) for n in names],
                             project.root / "predictions", shapes, self.models.device,
                             flip_average=self._flip_average)
        session.job_started(LABEL, title)
        job.yielded.connect(self._on_label_update)
        job.errored.connect(
            lambda msg: self.models.job_failed(LABEL, "Auto-labelling failed", msg))
        job.finished.connect(self._on_label_finished)

    def _on_label_update(self, item: LabelUpdate | Status) -> None:
        project, panel = self.models.project, self.models.views.job_panel
        if isinstance(item, Status) or project is None or project.read_only:
            if isinstance(item, Status):
                panel.set_progress(0, 0, item.message, item.message)
                self.session.job_progress(LABEL, item.message)
            return
        p = item.progress
        name = Path(p.path).name
        if p.status != "failed":
            conf = (p.confidence_score if p.confidence_score is not None
                    else project.mean_confidence(name))
            project.record_prediction(name, conf, save=False)
            thumbs = self.models.views.image_panel.model
            thumbs.set_state(name, project.state(name))
            if item.small is not None:
                thumbs.set_overlay(name, item.small)
            if p.expected is not None:  # a few numbers per image: cheap on this thread
                if self._expected is None:
                    self._expected = ExpectedIoU(p.expected.shape[1] - 1)
                self._expected.add_sums(p.expected)
            cur = self.session.current
            if cur is not None and cur.name == name and p.labels is not None:
                self.models.show_prediction(cur, p.labels)
        self._counts_timer.start()
        eta = format_eta(p.eta_s)
        detail = f"{p.index}/{p.total}   {p.images_per_s:.1f} images/s" + (
            f"   about {eta} left" if eta else "") + (
            f"\n{p.message}" if p.status == "failed" else "")
        panel.set_progress(p.index, p.total, "Auto-labelling %p%", detail)
        self.session.job_progress(LABEL, detail)

    def _on_label_finished(self, cancelled: bool) -> None:
        self.job = None
        project, expected = self.models.project, self._expected
        self._expected = None
        if expected is not None and expected.images and project is not None:
            info = project.model_info
            examples = info.get("num_support")
            reason = no_estimate_reason(bool(info.get("refined")), self._flip_average,
                                        examples if isinstance(examples, int) else None,
                                        live=bool(info.get("live")),
                                        scribbled=bool(info.get("scribbled_examples")))
            update = ({"expected_iou": None, "expected_images": None, "no_estimate": reason}
                      if reason else {"expected_iou": round(expected.mean(), 4),
                                      "expected_images": expected.images, "no_estimate": None})
            if self.session.update_model_info(update):
                self.models.show_model(project.active_model, project.model_info)
        if project is not None and not project.read_only:
            self.session.saver.save_project(project)
        self._refresh_counts()
        text = ("Cancelled: labelled images are kept; Auto-label again to continue."
                if cancelled else "Done. Press Review next (N) to check the least sure ones.")
        self.models.job_ended(LABEL, text)
        self.labelled.emit(cancelled)

    def _refresh_counts(self) -> None:
        if self.models.project is not None:
            self.models.views.image_panel.set_counts(self.models.project.counts())
