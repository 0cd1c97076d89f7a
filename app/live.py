"""The *Live* mode: the model follows the strokes while a person paints.

While Live is on, short warm-started learning rounds (:mod:`engine.learning.live`) run in a worker
thread on the examples as they are now: the saved examples on disk plus the shown image's
strokes straight from its document.  Each finished round becomes the project's model
(``models/live.dfss``) and the shown image's overlay is predicted again.  When the strokes
change, the running round is cancelled at its next step and a new one starts from the last
finished model, so a correction shows within one short round.  With unchanged strokes the
rounds go on refining, up to about the steps of a full *Learn class*, then rest.  Turning
Live off keeps the latest model; *Learn class* stays the full run (and pauses Live).

The controller follows the session's events (image, labels, states, classes, other jobs)
and compares a cheap key (image, document revision, examples, classes) with the running
round's, so every kind of edit (strokes, smart tools, undo, accept, class changes) restarts
learning without hooks in each of them.  A round waits on its worker thread for the labels
queued for writing, so it reads the examples just saved.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.jobs import Job, Status, guarded, support_mask
from app.session import LIVE
from engine.io.images import read_image
from engine.io.labels import class_pixels, has_painting, training_mask
from engine.io.project import ImageState

if TYPE_CHECKING:
    from app.canvas import MaskCanvas
    from app.model_controller import ModelController
    from app.session import Session

LIVE_MODEL = "live.dfss"
MAX_STEPS = 150  # rounds with unchanged strokes stop about here (a full Learn class's steps)
STROKE_WAIT_MS = 300  # a check during a stroke looks again this much later


@dataclass(frozen=True)
class LiveRequest:
    """One round's inputs: examples on disk, the shown image's strokes, classes, model file."""

    on_disk: Sequence[tuple[Path, Path]]          # (image, label file) of saved examples
    shown: tuple[np.ndarray, np.ndarray] | None   # (rgb, training mask) of the shown image
    classes: Sequence[tuple[int, str, tuple[int, int, int]]]
    path: Path
    previous: Any = None                          # the last round's SegModel (warm start)
    config: Any = None                            # engine.learning.train.LearnConfig or None
    previous_path: Path | None = None             # else continue from this model file
    written: Future | None = None                 # done when the writes queued before are


@dataclass(frozen=True)
class RoundDone:
    """A finished round: its model, saved at ``path``."""

    model: Any
    path: Path


def live_round_job(request: LiveRequest) -> Generator[Any, None, RoundDone]:
    """Read the examples, run one round, save the model; worker thread."""
    return (yield from guarded(_round(request)))


def _round(request: LiveRequest) -> Generator[Any, None, RoundDone]:
    from engine.io.labels import ClassInfo
    from engine.learning.live import live_round
    from engine.nn.modelfile import save_model

    if request.written is not None:
        yield Status("Live: waiting for the labels to be saved")
        request.written.result()
    images, masks = [], []
    for image_path, label_path in request.on_disk:
        yield Status(f"Live: reading {Path(image_path).name}")
        try:
            images.append(read_image(image_path))
            masks.append(support_mask(label_path))
        except (OSError, ValueError):
            continue  # being rewritten or unreadable: the next round has it
    if request.shown is not None:
        images.append(request.shown[0])
        masks.append(request.shown[1])
    classes = [ClassInfo(i, name, tuple(color)) for i, name, color in request.classes]
    previous = request.previous
    if previous is None and request.previous_path is not None:
        from engine.nn.modelfile import load_model

        try:  # e.g. the model of the last Learn class: corrections continue from it
            previous = load_model(request.previous_path)
        except (OSError, ValueError):
            previous = None
    gen = live_round(images, masks, classes, previous, request.config)
    try:
        model = yield from gen
    finally:
        gen.close()
    save_model(model, request.path)
    return RoundDone(model, request.path)


class LiveController(QObject):
    """Runs live rounds for one window while its *Live* action is checked."""

    status = Signal(str)   # one line for the status bar / job panel
    updated = Signal(object)  # Path of the model file a round just wrote

    def __init__(self, session: Session, canvas: MaskCanvas, models: ModelController,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.canvas = canvas
        self.models = models  # learn_config, and it puts each round's model in use
        self.job: Job | None = None
        self.model: Any = None          # the last finished round's model
        self._enabled = False
        self._running_key: tuple | None = None
        self._done_key: tuple | None = None
        self._steps_on_key = 0
        self._project: str | None = None
        # One check after a burst of events, on the next turn of the event loop.
        self._later = QTimer(self, singleShot=True)
        self._later.timeout.connect(self._check)
        events = session.events
        for event in (events.project_changed, events.image_changed, events.image_state_changed,
                      events.labels_changed, events.classes_changed):
            event.connect(lambda *_: self._check_soon())
        events.job_changed.connect(self._on_job_changed)

    @property
    def enabled(self) -> bool:
        """True while Live is on."""
        return self._enabled

    def set_enabled(self, on: bool) -> None:
        """Start or stop following the strokes; stopping keeps the latest model in use."""
        self.canvas.set_prediction_underlay(on)
        if on and not self._enabled:
            self._enabled = True
            self.status.emit("Live: learning from your strokes as you paint.")
            self._check()
        elif not on and self._enabled:
            self._enabled = False
            self._later.stop()
            if self.job is not None:
                self.job.cancel()
            self.status.emit("Live off: the latest model is kept." if self.model is not None
                             else "Live off.")

    def forget(self) -> None:
        """Drop the warm start (another project was opened, or classes changed a lot)."""
        if self.job is not None:
            self.job.detach()
            self.job = None
            self.session.job_finished(LIVE)
        self.model, self._done_key, self._running_key, self._steps_on_key = None, None, None, 0

    # -- watching the labels ----------------------------------------------------------------
    def _key(self) -> tuple | None:
        project, cur = self.session.project, self.session.current
        if project is None:
            return None
        doc = cur.document if cur is not None else None
        return (str(project.root), cur.name if cur is not None else None,
                doc.revision if doc is not None else None,
                tuple(project.names_with(ImageState.SUPPORT)),
                tuple((c.id, c.name) for c in project.classes))

    def _check_soon(self, delay_ms: int = 0) -> None:
        if self._enabled:
            self._later.start(delay_ms)

    def _on_job_changed(self, kind: str, _state: object) -> None:
        if kind != LIVE:  # Learn class / Auto-label started (pause) or ended (go on)
            self._check_soon()

    def _check(self) -> None:
        if not self.enabled:
            return
        project = self.session.project
        if project is None or project.read_only:
            return
        if self.session.busy:  # Learn class / Auto-label own the machine: pause
            if self.job is not None:
                self.job.cancel()
            return
        if self.canvas.stroke_active:  # wait for the stroke to end (it may change nothing)
            self._check_soon(STROKE_WAIT_MS)
            return
        if str(project.root) != self._project:
            self.forget()
            self._project = str(project.root)
        key = self._key()
        if self.job is not None:
            if key != self._running_key:
                self.job.cancel()  # strokes changed: restart from the last finished model
            return
        if key == self._done_key and self._steps_on_key >= MAX_STEPS:
            return  # refined enough on these strokes; rest until they change
        self._start(key)

    def _start(self, key: tuple | None) -> None:
        project, cur = self.session.project, self.session.current
        assert project is not None
        shown = None
        if cur is not None and cur.document is not None and cur.rgb is not None and (
                project.state(cur.name) in (ImageState.SUPPORT, ImageState.UNLABELLED)
                and has_painting(cur.document.labels)):
            shown = (cur.rgb, training_mask(cur.document.labels.copy()))
        # Read on the worker thread once written; a missing file is skipped there.
        on_disk = [(project.image_path(n), project.label_path(n))
                   for n in project.names_with(ImageState.SUPPORT)
                   if cur is None or n != cur.name]
        has_class = shown is not None and bool(class_pixels(shown[1]).any())
        if not on_disk and not has_class:
            self.status.emit("Live: paint a few strokes on the class (and some Background).")
            self._done_key, self._steps_on_key = key, MAX_STEPS
            return
        if key != self._done_key:
            self._steps_on_key = 0
        # Continue from the last round while its model is the one in use; after a Learn
        # class (or on a project that has a model), from that model.
        ours = project.active_model == LIVE_MODEL and self.model is not None
        request = LiveRequest(on_disk, shown, [(c.id, c.name, c.color) for c in project.classes],
                              project.models_dir / LIVE_MODEL, self.model if ours else None,
                              self.models.learn_config,
                              None if ours else project.model_path,
                              self.session.saver.written() if on_disk else None)
        self._running_key = key
        job = self.job = Job(self.session.worker("live_round"), request)
        self.session.job_started(LIVE, "Live: learning from your strokes")
        job.yielded.connect(self._on_progress)
        job.returned.connect(lambda done, key=key: self._on_round(done, key))
        job.errored.connect(self._on_error)
        job.finished.connect(self._on_finished)

    # -- results ----------------------------------------------------------------------------
    def _on_progress(self, item: Any) -> None:
        if isinstance(item, Status):
            return
        if item.phase == "train":
            self.status.emit(f"Live: learning, step {item.step}/{item.total_steps}")

    def _on_round(self, done: RoundDone, key: tuple | None) -> None:
        self.model = done.model
        steps = int(done.model.metadata.get("steps", 0))
        self._steps_on_key = (self._steps_on_key if key == self._done_key else 0) + steps
        self._done_key = key
        if self.session.project is None:
            return
        total = int(done.model.metadata.get("total_steps", steps))
        self.models.use_live_model(done.path, {"live": True, "steps": total,
                                                "device": done.model.metadata.get(
                                                    "train_device", "")})
        self.status.emit(f"Live: overlay updated ({total} steps so far).")
        self.updated.emit(done.path)

    def _on_error(self, message: str) -> None:
        self.session.job_failed(LIVE, f"Live: {message}")
        self.status.emit(f"Live: {message}")
        self._done_key, self._steps_on_key = self._running_key, MAX_STEPS  # wait for a change

    def _on_finished(self, _cancelled: bool) -> None:
        self.job = None
        self._running_key = None
        self.session.job_finished(LIVE)
        self._check_soon()
