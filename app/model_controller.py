"""The closed loop: Learn class, Refine on folder, live prediction, the model panel;
Auto-label folder is :mod:`app.auto_label`.

Jobs run in worker threads (:mod:`app.jobs`); these slots only apply their small
results on the main thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import QMessageBox

from app.auto_label import AutoLabel
from app.current import CurrentImage
from app.job_panel import format_eta
from app.jobs import (
    Job,
    LearnRequest,
    LearnResult,
    ModelReady,
    PredictResult,
    RefineRequest,
    Status,
)
from app.session import LABEL, LEARN
from engine.edit.document import MaskDocument
from engine.io.project import ImageState, Project
from engine.learning.estimate import REFINED, folder_estimate, range_text

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QLabel, QWidget

    from app.actions import Actions
    from app.canvas import MaskCanvas
    from app.image_list import ImageListPanel
    from app.job_panel import JobPanel
    from app.review import Review
    from app.session import Session


@dataclass(frozen=True)
class ModelViews:
    """The widgets the controller drives: the model panel, the actions it triggers, the
    canvas (prediction overlay), the image list (badges, thumbnails) and two status labels."""

    job_panel: JobPanel
    actions: Actions
    canvas: MaskCanvas
    image_panel: ImageListPanel
    model_status: QLabel
    device_label: QLabel


class ModelController(QObject):
    """Runs the learn / auto-label / predict jobs of one session and shows them."""

    learned = Signal(object)       # Path of the new model
    predicted = Signal(str)        # live prediction of the shown image arrived

    def __init__(self, session: Session, views: ModelViews, review: Review,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.views = views
        self.review = review
        self._parent = parent
        self.learn_config: Any = None  # engine.learning.config.LearnConfig; None = defaults
        self.refine_settings: Any = None  # engine.refine.RefineConfig; None = defaults
        self.device: str | None = None    # None = CUDA, then MPS, then CPU
        self.learn: Job | None = None
        self._predict: Job | None = None
        self._predict_wanted: CurrentImage | None = None
        self._learn_ready = False  # the running learn job has put its model in use
        self._predictors: dict[str, Any] = {}  # used by one predict job at a time
        self.auto_label = AutoLabel(self, parent)
        a, p = views.actions, views.job_panel
        a.learn.triggered.connect(self.start_learning)
        a.auto_label.triggered.connect(self.auto_label.start)
        a.refine.triggered.connect(self.start_refine)
        a.cancel_job.triggered.connect(self.cancel)
        a.flip_average.toggled.connect(self._on_flip_average_toggled)
        buttons: tuple[tuple[Any, QAction], ...] = (
            (p.learn_button, a.learn), (p.label_button, a.auto_label),
            (p.review_button, a.review_next), (p.accept_button, a.accept),
            (p.support_button, a.toggle_support), (p.cancel_button, a.cancel_job))
        for button, action in buttons:
            button.clicked.connect(action.trigger)
        session.events.project_changed.connect(self._on_project_changed)
        session.events.model_changed.connect(self._on_model_changed)
        session.events.image_changed.connect(self._on_image_changed)
        QThreadPool.globalInstance().setMaxThreadCount(
            max(4, QThreadPool.globalInstance().maxThreadCount()))

    @property
    def project(self) -> Project | None:
        """The session's open project."""
        return self.session.project

    @property
    def predicting(self) -> bool:
        """True while the shown image's prediction runs."""
        return self._predict is not None

    # -- project / image events ------------------------------------------------------
    def _on_project_changed(self, project: Project | None) -> None:
        if project is not None:
            self.project_opened(project)

    def project_opened(self, project: Project) -> None:
        """Show the project's model (if any)."""
        path = project.model_path
        self._on_model_changed(path.name if path is not None else None, project.model_info)

    def _on_model_changed(self, name: str | None, info: dict) -> None:
        self._predictors.clear()  # the file was (re)written, or another model is used
        if name is not None:
            self.show_model(name, info)
        else:
            self.views.model_status.setText("No model")
            self.views.job_panel.model_label.setText(
                "No model yet. Paint a few examples, then press Learn class.")

    def _on_image_changed(self, current: CurrentImage | None) -> None:
        if current is not None:
            self.image_shown(current)

    def _on_flip_average_toggled(self, on: bool) -> None:
        if on != self.session.settings.flip_average:
            self.session.settings.flip_average = on
            self._on_image_changed(self.session.current)  # its overlay with the new setting

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
        job = self._predict = Job(self.session.worker("predict"), self._predictors,
                                  project.model_path, cur.name, cur.rgb, self.device,
                                  self.session.settings.flip_average)
        job.returned.connect(self._on_predicted)
        job.errored.connect(lambda msg: self.session.status(msg, 8000))
        job.finished.connect(self._on_predict_finished)

    def _on_predicted(self, result: PredictResult) -> None:
        cur = self.session.current
        self.views.device_label.setText(f"Device: {result.device.upper()}")
        if cur is None or cur.name != result.name or self.project is None:
            return
        cur.confidence = result.confidence
        self.views.canvas.set_confidence(result.confidence,
                                         self.session.settings.low_confidence_threshold)
        # Every image gets the prediction layer (Show prediction, Take prediction); only an
        # untouched unlabelled or predicted one starts its labels from it.
        self.show_prediction(cur, result.labels)
        self.predicted.emit(result.name)

    def _on_predict_finished(self, _cancelled: bool) -> None:
        self._predict = None
        if self._predict_wanted is not None:
            self._start_predict()

    def show_prediction(self, cur: CurrentImage, labels: Any) -> None:
        """Show ``labels`` as the prediction; an untouched document starts from it."""
        canvas = self.views.canvas
        cur.prediction = labels
        canvas.set_prediction(labels)
        if (not cur.dirty and not canvas.stroke_active and self.project is not None
                and self.project.state(cur.name) in (ImageState.UNLABELLED,
                                                     ImageState.PREDICTED)):
            cur.document = MaskDocument(labels)
            cur.saved_revision = cur.document.revision
            canvas.set_document(cur.document)

    # -- learning -------------------------------------------------------------------------
    def start_learning(self) -> None:
        """Learn from the support images (the painted ones) in a worker thread."""
        project, session = self.project, self.session
        if project is None or session.busy:
            return
        if project.read_only:  # its models/ belongs to the other window (or cannot be written)
            QMessageBox.information(self._parent, "Learn class", "This folder is open "
                                    "read-only: learning needs a project this window can "
                                    "write to.")
            return
        if not self._examples_saved("Learn class"):
            return
        names = project.names_with(ImageState.SUPPORT)
        if not names:
            QMessageBox.information(self._parent, "Learn class", "Paint the class on at least "
                                    "one image first: painted images are the examples.")
            return
        request = LearnRequest(
            [(project.image_path(n), project.label_path(n)) for n in names],
            [(c.id, c.name, c.color) for c in project.classes], project.models_dir,
            self.learn_config)
        self._start_learn_job("learn", request, f"Learning from {len(names)} examples…",
                              "Learning failed", self._on_learn_finished)

    def _start_learn_job(self, worker: str, request: Any, title: str, failed: str,
                         finished: Any) -> None:
        """Run a job that produces a model (learn, refine) as the session's LEARN job: its
        progress and model are shown by the same slots; ``finished`` ends it."""
        self.views.job_panel.set_busy(title)
        self._learn_ready = False  # set when the trained model is in use (ModelReady)
        job = self.learn = Job(self.session.worker(worker), request)
        self.session.job_started(LEARN, title)
        job.yielded.connect(self._on_learn_progress)
        job.returned.connect(self._on_learned)
        job.errored.connect(lambda msg: self.job_failed(LEARN, failed, msg))
        job.finished.connect(finished)

    def _examples_saved(self, title: str) -> bool:
        """Flush the labels; False (with a warning) when some could not be saved: learning
        reads the examples from disk and would learn stale or missing masks."""
        self.session.flush()
        unsaved = self.session.saver.unsaved
        if unsaved:
            QMessageBox.warning(self._parent, title, f"The labels of {len(unsaved)} image(s) "
                                "could not be saved (see the earlier warning). Free space or "
                                "fix the folder's permissions, then try again: saving is "
                                "retried.")
        return not unsaved

    def start_refine(self) -> None:
        """Refine the model in use on the folder's unlabelled images (:mod:`engine.refine`),
        then auto-label them again with it."""
        project, session = self.project, self.session
        if project is None or session.busy:
            return
        if project.read_only or project.model_path is None:
            QMessageBox.information(self._parent, "Refine on folder", "This folder is open "
                                    "read-only." if project.read_only else "Learn a class "
                                    "first: refining continues from the model in use.")
            return
        folder = project.names_with(ImageState.UNLABELLED, ImageState.PREDICTED)
        names = project.names_with(ImageState.SUPPORT)
        if not folder or not names:
            QMessageBox.information(self._parent, "Refine on folder", "Refining learns from "
                                    "the examples and the images without a human label: "
                                    "this folder has none of the latter." if names else
                                    "Paint at least one example first.")
            return
        if not self._examples_saved("Refine on folder"):
            return
        request = RefineRequest(project.model_path, [(project.image_path(n),
                                                      project.label_path(n)) for n in names],
                                [project.image_path(n) for n in folder], project.models_dir,
                                self.learn_config, self.refine_settings)
        self._start_learn_job("refine", request,
                              f"Refining on {len(folder)} unlabelled images…",
                              "Refining failed", self._on_refine_finished)

    def _on_refine_finished(self, cancelled: bool) -> None:
        self.learn = None
        done = not cancelled and self.session.job(LEARN).failure is None
        self.job_ended(LEARN, "Cancelled: the previous model is kept." if cancelled else
                       "Refined: auto-labelling the folder again.")
        if done:
            self.auto_label.start()  # every unlabelled image, with the refined model

    def _on_learn_progress(self, item: Any) -> None:
        panel = self.views.job_panel
        if isinstance(item, ModelReady):
            self._use_model(item.path, {"estimating": True})
            self._learn_ready = True
            return
        if isinstance(item, Status):
            panel.set_progress(0, 0, item.message, item.message)
            self.session.job_progress(LEARN, item.message)
            return
        phase = {"features": "Reading features", "trees": "Fitting trees", "train": "Training",
                 "validate": "Checking (leave-one-out)",
                 "pseudo": "Predicting the folder"}.get(item.phase, item.phase)
        loss = "" if item.loss != item.loss else f"loss {item.loss:.3f}   "
        eta = format_eta(item.eta_s)
        if item.step == 0 and item.message:  # e.g. "starting on CUDA (…)", before any step
            detail = f"{phase}: {item.message}"
        else:
            detail = f"{phase}: step {item.step}/{item.total_steps}   {loss}" + (
                f"about {eta} left" if eta else "")
        panel.set_progress(item.step, item.total_steps, f"{phase} %p%", detail)
        self.session.job_progress(LEARN, detail)

    def _on_learned(self, result: LearnResult) -> None:
        meta = dict(getattr(result.model, "metadata", {}) or {})
        info = {"loo_miou": meta.get("loo_miou"), "loo_iou": meta.get("loo_iou", {}),
                "loo_per_support": meta.get("loo_per_support"),
                "support_files": meta.get("support_files"),
                "num_support": meta.get("num_support"),
                "scribbled_examples": meta.get("scribbled_examples"),
                "device": str(meta.get("train_device") or meta.get("device") or ""),
                "refined": bool(meta.get("refine"))}
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
        self.session.set_model(path.name, info)  # shown by _on_model_changed
        cur = self.session.current
        if cur is not None and new_weights:
            self.image_shown(cur)  # the new model's overlay, at once
        return True

    def use_live_model(self, path: Path, info: dict) -> None:
        """Use a live round's model (same file each round): show it and predict the shown
        image again (:mod:`app.live`)."""
        project = self.project
        same = project is not None and project.active_model == path.name
        if self._use_model(path, info) and same and self.session.current is not None:
            self._predictors.clear()  # same file name, new weights
            self.image_shown(self.session.current)

    def _on_learn_finished(self, cancelled: bool) -> None:
        self.learn = None
        project = self.project
        if cancelled and self._learn_ready and project is not None and not project.read_only:
            # Cancelled during the leave-one-out check: the new model stays, unestimated.
            self.session.set_model(project.active_model, {"estimate": "cancelled"})
        text = ("Cancelled: the new model is in use, without its estimate."
                if cancelled and self._learn_ready else
                "Cancelled: the previous model is kept." if cancelled
                else "Model ready. Auto-label the folder, or correct and learn again.")
        self.job_ended(LEARN, text)

    def show_model(self, name: str, info: dict) -> None:
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
        expected, count = info.get("expected_iou"), info.get("expected_images")
        reason = info.get("no_estimate")
        no_estimate = (str(reason) if reason else
                       REFINED if info.get("refined") and expected is None else None)
        estimate = (folder_estimate(float(expected), int(count))
                    if isinstance(expected, (int, float)) and isinstance(count, int) else None)
        self.views.job_panel.set_model(
            name, miou_f, per, per_support, names, estimating=estimating,
            note=("The leave-one-out check was cancelled: learn again to get it.")
            if cut_off else None, estimate=estimate, no_estimate=no_estimate,
            scribbled=bool(info.get("scribbled_examples")))
        shown = (f"   IoU about {range_text(estimate)}" if estimate is not None else
                 f"   held-out check {miou_f * 100:.0f} %" if miou_f is not None else "")
        self.views.model_status.setText(f"Model {name}{shown}")
        if device:
            self.views.device_label.setText(f"Device: {device.upper()}")

    # -- auto-labelling (app.auto_label) ---------------------------------------------------
    @property
    def label(self) -> Job | None:
        """The running auto-label job, if any."""
        return self.auto_label.job

    @property
    def labelled(self) -> Any:
        """Signal(bool): auto-labelling ended (True = cancelled)."""
        return self.auto_label.labelled

    def start_auto_label(self) -> None:
        """Predict every image without a human label, in the background."""
        self.auto_label.start()

    # -- jobs ----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while learning, auto-labelling or a class deletion runs
        (:attr:`Session.busy`)."""
        return self.session.busy

    def cancel(self) -> None:
        """Cancel learning / auto-labelling."""
        for job in (self.learn, self.auto_label.job):
            if job is not None:
                job.cancel()

    def stop_all(self) -> None:
        """Cancel every job and wait for the threads (closing the project)."""
        self._predict_wanted = None
        for job in (self.learn, self.auto_label.job, self._predict):
            if job is not None:
                job.detach()  # results that arrive later belong to no project
        self.learn = self.auto_label.job = self._predict = None
        for kind in (LEARN, LABEL):
            if self.session.job(kind).running:
                self.session.job_finished(kind, "Stopped.")
        self.views.job_panel.set_idle("")
        QThreadPool.globalInstance().waitForDone(30_000)

    def job_failed(self, kind: str, title: str, message: str) -> None:
        text = f"{title}: {message}"
        self.session.job_failed(kind, text)
        self.views.job_panel.set_idle(text)
        self.session.status(text, 15000)

    def job_ended(self, kind: str, text: str) -> None:
        """The job ``kind`` finished: say ``text`` unless it failed (its message stays)."""
        failed = self.session.job(kind).failure is not None
        self.session.job_finished(kind, text)
        if not failed:
            self.views.job_panel.set_idle(text)
