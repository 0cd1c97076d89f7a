"""Labels that could not be written: the autosave tick, the non-modal warning, the retries,
and the question before unsaved labels would be dropped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from app.session import Session

AUTOSAVE_MS = 3000


class SaveGuard(QObject):
    """Autosaves the session's current image every few seconds and watches its ``Saver``."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._parent = parent
        self.box: QMessageBox | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(AUTOSAVE_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        """Queue the current labels if they changed, then check on failed writes."""
        self.session.save_current()
        self.check()

    def check(self) -> None:
        """Report failed writes once (non-modal) and retry them; the labels stay in memory."""
        saver = self.session.saver
        errors = saver.take_errors()
        self.session.report(errors)
        if not saver.unsaved:
            if self.box is not None:
                self.box.close()
                self.box = None
            return
        if self.box is None:
            box = QMessageBox(QMessageBox.Icon.Warning, "Labels not saved",
                              "Some labels could not be written to disk (is the disk full, or "
                              "the folder read-only?).\n\n" + (errors[0] if errors else "")
                              + "\n\nThey are kept in memory and saving is retried every few "
                              "seconds; this message closes itself once they are saved.",
                              parent=self._parent)
            box.setModal(False)
            box.show()
            self.box = box
        project = self.session.project
        if project is not None and not project.read_only:
            saver.retry(project)

    def may_discard_unsaved(self) -> bool:
        """Save, then, if some labels still cannot be written, ask before they are dropped."""
        s, saver = self.session, self.session.saver
        s.flush()
        if not saver.unsaved or s.project is None:
            return True
        saver.retry(s.project)
        s.report(saver.flush())
        if not saver.unsaved:
            return True
        answer = QMessageBox.warning(
            self._parent, "Labels not saved",
            f"The labels of {len(saver.unsaved)} image(s) could not be written to disk "
            "(is it full?). Close the folder anyway and lose them?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Discard
