"""Deleting a class as a job: ``Project.delete_class`` rewrites every label and prediction
PNG, which takes seconds on a large folder, so it runs on a worker thread.

Meanwhile the other jobs are stopped, the shown image is put away (nothing can be painted
while the masks are rewritten) and the class buttons are off; afterwards the window shows
the remapped masks again.  The engine stages every new mask before it replaces any, so a
failure changes nothing; its messages are shown as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.jobs import DeleteResult, Job
from app.session import DELETE_CLASS

if TYPE_CHECKING:
    from app.classes_panel import ClassesPanel
    from app.job_panel import JobPanel
    from app.session import Session
    from engine.io.labels import ClassInfo


class ClassDeletion(QObject):
    """Runs the class deletions the classes panel asks for, one at a time."""

    about_to_start = Signal(int)  # class id: stop the jobs, save, put the shown image away
    finished = Signal()           # the job ended (deleted or not)

    def __init__(self, session: Session, panel: ClassesPanel, job_panel: JobPanel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.panel = panel
        self.job_panel = job_panel
        self.job: Job | None = None
        panel.class_delete_requested.connect(self.start)

    @property
    def running(self) -> bool:
        """True from :meth:`start` until ``finished`` (the image is shown again then)."""
        return self.job is not None or self.session.job(DELETE_CLASS).running

    def start(self, class_id: int) -> bool:
        """Delete class ``class_id`` in the background; False when it cannot start now."""
        project, session = self.session.project, self.session
        if project is None or project.read_only or self.running:
            return False
        cls = project.class_by_id(class_id)
        self.about_to_start.emit(class_id)  # stops learning / auto-labelling, as before
        title = f"Deleting class '{cls.name}': rewriting the masks…"
        self.panel.set_editable(False)
        self.job_panel.set_busy(title)
        self.job_panel.cancel_button.setEnabled(False)  # all masks or none: not cancellable
        session.job_started(DELETE_CLASS, title)
        job = self.job = Job(session.worker("delete_class"), project, class_id)
        job.returned.connect(lambda result: self._on_done(cls, result))
        job.errored.connect(lambda msg: self._on_done(cls, DeleteResult(cls.id, [], msg)))
        job.finished.connect(self._on_finished)
        return True

    def stop(self) -> None:
        """Closing the project: the running deletion finishes on its thread (its masks are
        all or none) and reports nothing more (the caller waits for the thread pool)."""
        if self.job is not None:
            self.job.detach()
            self.job = None
        if self.running:
            self.session.job_finished(DELETE_CLASS)
            self.job_panel.set_idle("")
            self.panel.set_editable(True)

    def _on_done(self, cls: ClassInfo, result: DeleteResult) -> None:
        """The job's result, on the main thread: the job state first (the window shows the
        image again on ``class_deleted``), then the panel's messages and signals."""
        if result.error is not None:
            self.session.job_failed(DELETE_CLASS, f"Deleting '{cls.name}' failed: "
                                                  f"{result.error}")
        self.session.job_finished(DELETE_CLASS, f"Deleted '{cls.name}'.")
        self.job_panel.set_idle("")
        self.panel.set_editable(True)
        self.panel.deletion_done(cls, result.unreadable, result.error)

    def _on_finished(self, _cancelled: bool) -> None:
        self.job = None
        if self.session.job(DELETE_CLASS).running:  # ended without a result: say so
            self.session.job_finished(DELETE_CLASS)
            self.job_panel.set_idle("")
            self.panel.set_editable(True)
        self.finished.emit()
