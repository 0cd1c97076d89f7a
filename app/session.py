"""The app's state without widgets (napari's ``ViewerModel``): the open project, the shown
image, the saver, the model in use and the state of the long jobs, with events.

Plain Python: importable and testable without a QApplication.  Controllers and the window
change the state through the methods here and draw widgets from the events; nothing reads
state back from widget text.  The functions that the jobs run are held in :class:`Workers`,
so a test passes fakes into the session instead of patching module globals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.current import CurrentImage
    from app.saver import Saver
    from app.settings import AppSettings
    from engine.io.project import Project

LEARN, LABEL, LIVE, DELETE_CLASS = "learn", "label", "live", "delete_class"
JOB_KINDS = (LEARN, LABEL, LIVE, DELETE_CLASS)
EXCLUSIVE = (LEARN, LABEL, DELETE_CLASS)  # one of these at a time; Live pauses meanwhile


class Event:
    """A list of callbacks called in order by :meth:`emit` (on the caller's thread)."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``callback`` on every :meth:`emit`; returns it (usable as a decorator)."""
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        """Stop calling ``callback``; no error when it was not connected."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        """Call the callbacks with ``args``."""
        for callback in list(self._callbacks):
            callback(*args)


@dataclass
class SessionEvents:
    """The events of a :class:`Session` and their arguments."""

    project_changed: Event = field(default_factory=Event)      # (Project | None)
    image_changed: Event = field(default_factory=Event)        # (CurrentImage | None)
    image_state_changed: Event = field(default_factory=Event)  # (name): badge, counts
    labels_changed: Event = field(default_factory=Event)       # (name): its labels changed
    classes_changed: Event = field(default_factory=Event)      # (): names, colours or ids
    image_requested: Event = field(default_factory=Event)      # (name): please show it
    model_changed: Event = field(default_factory=Event)        # (name | None, info dict)
    job_changed: Event = field(default_factory=Event)          # (kind, JobState)
    status: Event = field(default_factory=Event)               # (text, timeout ms)


@dataclass(frozen=True)
class JobState:
    """One kind of job: whether it runs, what it said last, the last failure (if any)."""

    running: bool = False
    message: str = ""
    failure: str | None = None  # set by a failure, cleared when the job starts again


@dataclass(frozen=True)
class Workers:
    """The functions the jobs run on worker threads (tests pass fakes).  ``None`` fields are
    filled from the session's defaults (the window passes :func:`app.jobs.default_workers`;
    the session itself imports no job code, which needs Qt)."""

    learn: Callable[..., Any] | None = None         # app.jobs.learn_job
    auto_label: Callable[..., Any] | None = None    # app.jobs.auto_label_job
    predict: Callable[..., Any] | None = None       # app.jobs.predict_job
    live_round: Callable[..., Any] | None = None    # app.live.live_round_job
    delete_class: Callable[..., Any] | None = None  # app.jobs.delete_class_job
    refine: Callable[..., Any] | None = None        # app.jobs.refine_job

    def filled(self, defaults: Workers) -> Workers:
        """These workers, with ``defaults``' functions where none is given."""
        return replace(self, **{f.name: getattr(defaults, f.name) for f in fields(self)
                                if getattr(self, f.name) is None})


class Session:
    """The state of one window's work.  Events fire on the thread that changed the state
    (the GUI thread: jobs report through their Qt signals first)."""

    def __init__(self, settings: AppSettings | None = None, saver: Saver | None = None,
                 workers: Workers | None = None,
                 defaults: Callable[[], Workers] | None = None,
                 ask: Callable[[str, str], bool] | None = None) -> None:
        if settings is None:
            from app.settings import AppSettings

            settings = AppSettings()
        if saver is None:
            from app.saver import Saver

            saver = Saver()
        self.settings = settings
        self.saver = saver
        self.workers = workers or Workers()
        self._defaults = defaults  # called once, when a job needs a worker not given
        # A Yes/No question to the user, (title, text) -> True for Yes: the window asks with
        # a dialog, tests pass a fake; without one the answer is No (nothing is dropped).
        self.ask: Callable[[str, str], bool] = ask or _decline
        self.events = SessionEvents()
        self._project: Project | None = None
        self._current: CurrentImage | None = None
        self._jobs: dict[str, JobState] = {kind: JobState() for kind in JOB_KINDS}

    # -- project and image ---------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        """The open project."""
        return self._project

    @project.setter
    def project(self, project: Project | None) -> None:
        if project is self._project:
            return
        self._project = project
        if project is None:
            self.current = None
        self.events.project_changed.emit(project)

    @property
    def current(self) -> CurrentImage | None:
        """The image being edited (None while none is shown or a large one is read)."""
        return self._current

    @current.setter
    def current(self, current: CurrentImage | None) -> None:
        if current is self._current:
            return
        self._current = current
        self.events.image_changed.emit(current)

    def worker(self, kind: str) -> Callable[..., Any]:
        """The function that job ``kind`` runs (a :class:`Workers` field name)."""
        func = getattr(self.workers, kind)
        if func is None and self._defaults is not None:
            self.workers = self.workers.filled(self._defaults())
            func = getattr(self.workers, kind)
        if func is None:
            raise LookupError(f"no worker for job {kind!r}")
        return func

    def request_image(self, name: str) -> None:
        """Ask the view to show image ``name`` (it loads it and sets :attr:`current`)."""
        self.events.image_requested.emit(name)

    def save_current(self) -> bool:
        """Autosave: queue the current labels when they changed; True when queued."""
        cur, project = self._current, self._project
        if project is not None and cur is not None and cur.save(project, self.saver):
            self.state_changed(cur.name)
            return True
        return False

    def state_changed(self, name: str) -> None:
        """Say that the state of image ``name`` changed (badges, counts, actions)."""
        if self._project is not None:
            self.events.image_state_changed.emit(name)

    def labels_changed(self, name: str) -> None:
        """Say that the shown labels of ``name`` changed (a stroke, undo, un-review):
        thumbnails, Live."""
        self.events.labels_changed.emit(name)

    def classes_changed(self) -> None:
        """Say that the project's classes changed (added, renamed, recoloured, deleted)."""
        self.events.classes_changed.emit()

    def report(self, errors: list[str], timeout_ms: int = 10000) -> None:
        """Show each message of ``errors`` (write errors) as a status line."""
        for error in errors:
            self.status(error, timeout_ms)

    def status(self, text: str, timeout_ms: int = 6000) -> None:
        """A one-line message for the user (the window's status bar)."""
        self.events.status.emit(text, timeout_ms)

    def flush(self) -> None:
        """Save the shown image and wait for all queued writes; report their errors."""
        self.save_current()
        self.report(self.saver.flush())

    # -- the model in use -----------------------------------------------------------------
    @property
    def model_name(self) -> str | None:
        """File name of the project's model in use (in ``models/``), or None."""
        return self._project.active_model if self._project is not None else None

    @property
    def model_path(self) -> Path | None:
        """Path of the model in use, or None."""
        return self._project.model_path if self._project is not None else None

    @property
    def model_info(self) -> dict:
        """The model's estimate and notes (``project.json``'s ``model_info``)."""
        return dict(self._project.model_info) if self._project is not None else {}

    def set_model(self, name: str | None, info: dict) -> bool:
        """Make ``name`` (``None``: no model) the model in use with ``info``, queue saving
        ``project.json``; False when no writable project is open."""
        project = self._project
        if project is None or project.read_only:
            return False
        project.active_model, project.model_info = name, dict(info)
        self.saver.save_project(project)
        self.events.model_changed.emit(name, dict(info))
        return True

    def update_model_info(self, updates: dict) -> bool:
        """Add ``updates`` to the model in use's info (the same model: nothing to reload) and
        queue saving ``project.json``; False when no writable project or no model."""
        project = self._project
        if project is None or project.read_only or project.active_model is None:
            return False
        project.model_info = {**project.model_info, **updates}
        self.saver.save_project(project)
        return True

    # -- jobs -----------------------------------------------------------------------------
    def job(self, kind: str) -> JobState:
        """The state of job ``kind`` (one of :data:`JOB_KINDS`)."""
        return self._jobs[kind]

    @property
    def busy(self) -> bool:
        """True while learning, auto-labelling or a class deletion runs."""
        return any(self._jobs[kind].running for kind in EXCLUSIVE)

    def job_started(self, kind: str, message: str = "") -> None:
        """Job ``kind`` started (its last failure is forgotten)."""
        self._set_job(kind, JobState(True, message, None))

    def job_progress(self, kind: str, message: str) -> None:
        """Job ``kind`` says what it does now."""
        self._set_job(kind, replace(self._jobs[kind], message=message))

    def job_failed(self, kind: str, message: str) -> None:
        """Job ``kind`` failed with ``message`` (it may still report ``finished``)."""
        self._set_job(kind, replace(self._jobs[kind], message=message, failure=message))

    def job_finished(self, kind: str, message: str = "") -> None:
        """Job ``kind`` ended; ``message``: its outcome (kept: a failure's message when it
        failed)."""
        state = self._jobs[kind]
        self._set_job(kind, JobState(False, state.failure or message, state.failure))

    def _set_job(self, kind: str, state: JobState) -> None:
        if state != self._jobs[kind]:
            self._jobs[kind] = state
            self.events.job_changed.emit(kind, state)


def _decline(_title: str, _text: str) -> bool:
    return False
