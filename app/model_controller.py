"""The closed loop: Learn class, Auto-label folder, live prediction, review and accept.

Jobs run in worker threads (:mod:`app.jobs`); these slots only apply their small
results on the main thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from app.current import CurrentImage
from app.job_panel import format_eta
from app.jobs import (
    Job,
    LabelUpdate,
    LearnRequest,
    LearnResult,
    ModelReady,
    PredictResult,
    Status,
    auto_label_job,
    learn_job,
    predict_job,
)
from engine.edit.document import MaskDocument
from engine.io.labels import has_painting
from engine.io.project import ImageState, Project

if TYPE_CHECKING:
    from app.main_window import MainWindow


class ModelController(QObject):
    """Owns the learn / auto-label / predict jobs of one window."""

    learned = Signal(object)       # Path of the new model
    labelled = Signal(bool)        # auto-labelling ended (True = cancelled)
    predicted = Signal(str)        # live prediction of the shown image arrived

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.learn_config: Any = None  # engine.learning.config.LearnConfig; None = defaults
        self.device: str | None = None    # None = CUDA, then MPS, then CPU
        self.learn: Job | None = None
        self.label: Job | None = None
        self._predict: Job | None = None
        self._predict_wanted: CurrentImage | None = None
        self._learn_ready = False  # the running learn job has put its model in use
        self._predictors: dict[str, Any] = {}  # used by one predict job at a time
        self._counts_timer = QTimer(self, singleShot=True, interval=250)
        self._counts_timer.timeout.connect(self._refresh_counts)
        a, p = window.actions_, window.job_panel
        a.learn.triggered.connect(self.start_learning)
        a.auto_label.triggered.connect(self.start_auto_label)
        a.review_next.triggered.connect(self.review_next)
        a.accept.triggered.connect(self.accept)
        a.toggle_support.triggered.connect(self.toggle_support)
        a.cancel_job.triggered.connect(self.cancel)
        for button, action in ((p.learn_button, a.learn), (p.label_button, a.auto_label),
                               (p.review_button, a.review_next), (p.accept_button, a.accept),
                               (p.support_button, a.toggle_support),
                               (p.cancel_button, a.cancel_job)):
            button.clicked.connect(action.trigger)
        QThreadPool.globalInstance().setMaxThreadCount(
            max(4, QThreadPool.globalInstance().maxThreadCount()))

    @property
    def project(self) -> Project | None:
        """The window's open project."""
        return self.w.project

    # -- project / image events ------------------------------------------------------
    def project_opened(self, project: Project) -> None:
        """Show the project's model (if any)."""
        self._predictors.clear()
        info = project.model_info
        if project.model_path is not None:
            self._show_model(project.model_path.name, info)
        else:
            self.w.model_status.setText("No model")
            self.w.job_panel.model_label.setText(
                "No model yet. Paint a few examples, then press Learn class.")

    def image_shown(self, current: CurrentImage) -> None:
        """Predict the shown image in the background when a model exists (live overlay and
        the low-confidence marking)."""
        if self.project is None or self.project.model_path is None or current.rgb is None:
            return
        self._predict_wanted = current
        if self._predict is None:
            self._start_predict()

    def _start_predict(self) -> None:
        cur, self._predict_wanted = self._predict_wanted, None
        project = self.project
        if cur is None or project is None or project.model_path is None or cur.rgb is None:
            return
        job = self._predict = Job(predict_job, self._predictors, project.model_path, cur.name,
                                  cur.rgb, self.device, self.w.settings.flip_average)
        job.returned.connect(self._on_predicted)
        job.errored.connect(lambda msg: self.w.statusBar().showMessage(msg, 8000))
        job.finished.connect(self._on_predict_finished)

    def _on_predicted(self, result: PredictResult) -> None:
        cur = self.w.current
        self.w.device_label.setText(f"Device: {result.device.upper()}")
        if cur is None or cur.name != result.name or self.project is None:
            return
        cur.confidence = result.confidence
        self.w.canvas.set_confidence(result.confidence, self.w.settings.low_confidence_threshold)
        # Every image gets the prediction layer (Show prediction, Take prediction); only an
        # untouched unlabelled or predicted one starts its labels from it.
        self._show_prediction(cur, result.labels)
        self.predicted.emit(result.name)

    def _on_predict_finished(self, _cancelled: bool) -> None:
        self._predict = None
        if self._predict_wanted is not None:
            self._start_predict()

    def _show_prediction(self, cur: CurrentImage, labels: Any) -> None:
        """Show ``labels`` as the prediction; an untouched document starts from it."""
        cur.prediction = labels
        self.w.canvas.set_prediction(labels)
        if (not cur.dirty and not self.w.canvas.stroke_active and self.project is not None
                and self.project.state(cur.name) in (ImageState.UNLABELLED,
                                                     ImageState.PREDICTED)):
            cur.document = MaskDocument(labels)
            cur.saved_revision = cur.document.revision
            self.w.canvas.set_document(cur.document)

    # -- learning -------------------------------------------------------------------------
    def start_learning(self) -> None:
        """Learn from the support images (the painted ones) in a worker thread."""
        project = self.project
        if project is None or self.busy:
            return
        if project.read_only:  # its models/ belongs to the other window (or cannot be written)
            QMessageBox.information(self.w, "Learn class", "This folder is open read-only: "
                                    "learning needs a project this window can write to.")
            return
        self.w.save_current()
        self.w.report(self.w.saver.flush())
        if self.w.saver.unsaved:
            # Learning reads the examples from disk: it would learn stale or missing masks.
            QMessageBox.warning(self.w, "Learn class", "The labels of "
                                f"{len(self.w.saver.unsaved)} image(s) could not be saved "
                                "(see the earlier warning). Free space or fix the folder's "
                                "permissions, then learn again: saving is retried.")
            return
        names = project.names_with(ImageState.SUPPORT)
        if not names:
            QMessageBox.information(self.w, "Learn class", "Paint the class on at least one "
                                    "image first: painted images are the examples.")
            return
        request = LearnRequest(
            [(project.image_path(n), project.label_path(n)) for n in names],
            [(c.id, c.name, c.color) for c in project.classes], project.models_dir,
            self.learn_config)
        self.w.job_panel.set_busy(f"Learning from {len(names)} examples…")
        self._learn_ready = False  # set when the trained model is in use (ModelReady)
        job = self.learn = Job(learn_job, request)
        job.yielded.connect(self._on_learn_progress)
        job.returned.connect(self._on_learned)
        job.errored.connect(lambda msg: self._job_failed("Learning failed", msg))
        job.finished.connect(self._on_learn_finished)

    def _on_learn_progress(self, item: Any) -> None:
        if isinstance(item, ModelReady):
            self._use_model(item.path, {"estimating": True})
            self._learn_ready = True
            return
        if isinstance(item, Status):
            self.w.job_panel.set_progress(0, 0, item.message, item.message)
            return
        phase = {"features": "Reading features", "train": "Training",
                 "validate": "Checking (leave-one-out)"}.get(item.phase, item.phase)
        loss = "" if item.loss != item.loss else f"loss {item.loss:.3f}   "
        eta = format_eta(item.eta_s)
        if item.step == 0 and item.message:  # e.g. "starting on CUDA (…)", before any step
            detail = f"{phase}: {item.message}"
        else:
            detail = f"{phase}: step {item.step}/{item.total_steps}   {loss}" + (
                f"about {eta} left" if eta else "")
        self.w.job_panel.set_progress(item.step, item.total_steps, f"{phase} %p%", detail)

    def _on_learned(self, result: LearnResult) -> None:
        meta = dict(getattr(result.model, "metadata", {}) or {})
        info = {"loo_miou": meta.get("loo_miou"), "loo_iou": meta.get("loo_iou", {}),
                "loo_per_support": meta.get("loo_per_support"),
                "support_files": meta.get("support_files"),
                "device": str(meta.get("train_device") or meta.get("device") or "")}
        if self._use_model(result.path, info):
            self.learned.emit(result.path)

    def _use_model(self, path: Path, info: dict) -> bool:
        """Make the model file ``path`` the project's model (``info``: its estimate), show it
        and the current image's prediction; False when no writable project is open."""
        project = self.project
        if project is None or project.read_only:
            return False
        # New weights, unless this is the file saved again with its estimate.
        new_weights = project.active_model != path.name or bool(info.get("estimating"))
        project.active_model, project.model_info = path.name, info
        self.w.saver.save_project(project)
        self._predictors.clear()  # the file was (re)written
        self._show_model(path.name, info)
        if self.w.current is not None and new_weights:
            self.image_shown(self.w.current)  # the new model's overlay, at once
        return True

    def use_live_model(self, path: Path, info: dict) -> None:
        """Use a live round's model (same file each round): show it and predict the shown
        image again (:mod:`app.live`)."""
        project = self.project
        same = project is not None and project.active_model == path.name
        if self._use_model(path, info) and same and self.w.current is not None:
            self._predictors.clear()  # same file name, new weights
            self.image_shown(self.w.current)

    def _on_learn_finished(self, cancelled: bool) -> None:
        self.learn = None
        project = self.project
        if cancelled and self._learn_ready and project is not None and not project.read_only:
            # Cancelled during the leave-one-out check: the new model stays, unestimated.
            project.model_info = {"estimate": "cancelled"}
            self.w.saver.save_project(project)
            if project.model_path is not None:
                self._show_model(project.model_path.name, project.model_info)
        text = ("Cancelled: the new model is in use, without its estimate."
                if cancelled and self._learn_ready else
                "Cancelled: the previous model is kept." if cancelled
                else "Model ready. Auto-label the folder, or correct and learn again.")
        if not self.w.job_panel.detail.text().startswith("Learning failed"):
            self.w.job_panel.set_idle(text)

    def _show_model(self, name: str, info: dict) -> None:
        """Show the model ``name`` with its ``model_info`` (from project.json: any values)."""
        miou, device = info.get("loo_miou"), str(info.get("device") or "")
        miou_f = float(miou) if isinstance(miou, (int, float)) else None
        per = {str(k): float(v) for k, v in (info.get("loo_iou") or {}).items()
               if isinstance(v, (int, float))}
        raw = info.get("loo_per_support")
        per_support = ([float(v) if isinstance(v, (int, float)) else None for v in raw]
                       if isinstance(raw, list) else None)
        names = info.get("support_files")
        names = [str(n) for n in names] if isinstance(names, list) else None
        # "estimating" in a project file with no learn job running: the check was cut off
        estimating = bool(info.get("estimating")) and self.learn is not None
        cut_off = info.get("estimate") == "cancelled" or (bool(info.get("estimating"))
                                                         and self.learn is None)
        self.w.job_panel.set_model(name, miou_f, per, per_support, names, estimating=estimating,
                                   note=("The leave-one-out check was cancelled: learn again "
                                         "to get the estimate.") if cut_off else None)
        loo = f"   LOO IoU {miou_f * 100:.0f} %" if miou_f is not None else ""
        self.w.model_status.setText(f"Model {name}{loo}")
        if device:
            self.w.device_label.setText(f"Device: {device.upper()}")

    # -- auto-labelling --------------------------------------------------------------------
    def start_auto_label(self) -> None:
        """Predict every image without a human label, in the background."""
        project = self.project
        if project is None or self.busy:
            return
        if project.read_only:
            QMessageBox.information(self.w, "Auto-label", "This folder is open read-only: "
                                    "auto-labelling needs a project this window can write to.")
            return
        if project.model_path is None:
            QMessageBox.information(self.w, "Auto-label", "Learn a class first.")
            return
        names = project.names_with(ImageState.UNLABELLED, ImageState.PREDICTED)
        shapes = {n: s for n in names if (s := self.w.image_panel.model.thumb_shape(n))}
        self.w.job_panel.set_busy(f"Auto-labelling {len(names)} images…")
        job = self.label = Job(auto_label_job, project.model_path,
                               [project.image_path(n) for n in names],
                               project.root / "predictions", shapes, self.device,
                               flip_average=self.w.settings.flip_average)
        job.yielded.connect(self._on_label_update)
        job.errored.connect(lambda msg: self._job_failed("Auto-labelling failed", msg))
        job.finished.connect(self._on_label_finished)

    def _on_label_update(self, item: LabelUpdate | Status) -> None:
        project = self.project
        if isinstance(item, Status) or project is None or project.read_only:
            if isinstance(item, Status):
                self.w.job_panel.set_progress(0, 0, item.message, item.message)
            return
        p = item.progress
        name = Path(p.path).name
        if p.status != "failed":
            conf = (p.confidence_score if p.confidence_score is not None
                    else project.mean_confidence(name))
            project.record_prediction(name, conf, save=False)
            self.w.image_panel.model.set_state(name, project.state(name))
            if item.small is not None:
                self.w.image_panel.model.set_overlay(name, item.small)
            cur = self.w.current
            if cur is not None and cur.name == name and p.labels is not None:
                self._show_prediction(cur, p.labels)
        self._counts_timer.start()
        eta = format_eta(p.eta_s)
        detail = f"{p.index}/{p.total}   {p.images_per_s:.1f} images/s" + (
            f"   about {eta} left" if eta else "") + (
            f"\n{p.message}" if p.status == "failed" else "")
        self.w.job_panel.set_progress(p.index, p.total, "Auto-labelling %p%", detail)

    def _on_label_finished(self, cancelled: bool) -> None:
        self.label = None
        if self.project is not None and not self.project.read_only:
            self.w.saver.save_project(self.project)
        self._refresh_counts()
        text = ("Cancelled: labelled images are kept; Auto-label again to continue."
                if cancelled else "Done. Press Review next (N) to check the least sure ones.")
        if not self.w.job_panel.detail.text().startswith("Auto-labelling failed"):
            self.w.job_panel.set_idle(text)
        self.labelled.emit(cancelled)

    def _refresh_counts(self) -> None:
        if self.project is not None:
            self.w.image_panel.set_counts(self.project.counts())

    # -- review ------------------------------------------------------------------------------
    def review_next(self) -> None:
        """Show the least confident predicted image (other than the current one)."""
        if self.project is None:
            return
        current = self.w.current.name if self.w.current is not None else None
        queue = [n for n in self.project.review_queue() if n != current]
        if not queue:
            self.w.statusBar().showMessage("Nothing left to review.", 5000)
            return
        self.w.show_image(queue[0])
        self.w.actions_.show_predictions.setChecked(True)

    def accept(self) -> None:
        """Keep the shown prediction (with any corrections) as the human label; go on."""
        cur, project = self.w.current, self.project
        if cur is None or project is None or cur.document is None or project.read_only:
            return
        if (project.state(cur.name) == ImageState.UNLABELLED
                and not has_painting(cur.document.labels)):
            return  # nothing to accept
        if not self.w.review.may_accept(cur.name):
            return  # an unsure prediction, and the user chose to look again
        # Accepting keeps the labels; an example stays an example (it was demoted).
        keep = project.state(cur.name) == ImageState.SUPPORT
        cur.save(project, self.w.saver, ImageState.SUPPORT if keep else ImageState.REVIEWED)
        self.w.state_changed(cur.name)
        self.review_next()

    def toggle_support(self) -> None:
        """Add the shown image to the examples (or take it out again)."""
        cur, project = self.w.current, self.project
        if cur is None or project is None or cur.document is None or project.read_only:
            return
        if project.state(cur.name) == ImageState.SUPPORT:
            project.set_state(cur.name, ImageState.REVIEWED, save=False)
            self.w.saver.save_project(project)
        else:
            cur.save(project, self.w.saver, ImageState.SUPPORT)
        self.w.state_changed(cur.name)

    # -- jobs ----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while learning or auto-labelling runs."""
        return self.learn is not None or self.label is not None

    def cancel(self) -> None:
        """Cancel learning / auto-labelling."""
        for job in (self.learn, self.label):
            if job is not None:
                job.cancel()

    def stop_all(self) -> None:
        """Cancel every job and wait for the threads (closing the project)."""
        self._predict_wanted = None
        for job in (self.learn, self.label, self._predict):
            if job is not None:
                job.detach()  # results that arrive later belong to no project
        self.learn = self.label = self._predict = None
        self.w.job_panel.set_idle("")
        QThreadPool.globalInstance().waitForDone(30_000)

    def _job_failed(self, title: str, message: str) -> None:
        self.w.job_panel.set_idle(f"{title}: {message}")
        self.w.statusBar().showMessage(f"{title}: {message}", 15000)
