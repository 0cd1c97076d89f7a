"""Review states a person can trust.

- A stroke on a predicted image makes its labels the human label (*reviewed*); the status
  bar says so plainly and undo of that stroke makes it *predicted* again (label file
  removed, badge back).  In general undo and redo restore the image's state with its labels.
- Accepting a very unsure prediction asks once.
- *Mark as not reviewed* (context menu on the list and the canvas, Model menu) puts a
  reviewed prediction back to *predicted*, asking before it drops corrections.
- *Review next* (least confident first), *Accept* and *Use as example* act on the shown image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QPoint
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from engine.edit.document import MaskDocument
from engine.io.labels import has_painting
from engine.io.project import ImageState

if TYPE_CHECKING:
    from app.canvas import MaskCanvas
    from app.session import Session

MAX_HISTORY = 100  # MaskDocument's default undo depth

STATE_TEXT = {
    ImageState.UNLABELLED: "Unlabelled: paint the class to make it an example.",
    ImageState.SUPPORT: "Example: your labels; Learn class learns from them.",
    ImageState.PREDICTED: "Predicted, not reviewed: the model's labels. Painting a "
                          "correction or Accept makes them yours (reviewed).",
    ImageState.REVIEWED: "Reviewed: these labels are yours. Right-click: mark as not "
                         "reviewed.",
}


def ask_yes_no(parent: QWidget | None, title: str, text: str) -> bool:
    """A modal Yes/No question (the window's :attr:`Session.ask`; tests pass a fake)."""
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


class Review(QObject):
    """The shown image's state history (one entry per stroke), accept and un-review."""

    def __init__(self, session: Session, canvas: MaskCanvas, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.session = session
        self.canvas = canvas
        self._parent = parent
        self._doc: MaskDocument | None = None
        self._undo: list[ImageState] = []  # state before each undoable stroke
        self._redo: list[ImageState] = []  # state after each undone stroke
        self.confirmed: set[str] = set()   # unsure predictions the user chose to accept
        canvas.stroke_finished.connect(self.stroke_finished)

    def _history_of(self, doc: MaskDocument | None) -> None:
        if doc is not self._doc:  # another image, or the document was replaced
            self._doc, self._undo, self._redo = doc, [], []

    # -- strokes, undo, redo -------------------------------------------------------------
    def stroke_finished(self) -> None:
        """Save the stroke; remember the state it replaced; say so when it made the
        prediction the human label."""
        s, cur = self.session, self.session.current
        if cur is None or s.project is None or cur.document is None:
            s.save_current()
            return
        self._history_of(cur.document)
        before = s.project.state(cur.name)
        s.save_current()  # saved per stroke, off the main thread: a crash loses one stroke
        s.labels_changed(cur.name)
        after = s.project.state(cur.name)
        self._undo = [*self._undo, before][-MAX_HISTORY:]
        self._redo.clear()
        if before == ImageState.PREDICTED and after == ImageState.REVIEWED:
            s.status(
                f"{cur.name} is now reviewed: the corrected prediction is saved as your "
                "label. Undo (Ctrl+Z) makes it predicted again.", 15000)

    def history(self, undo: bool) -> bool:
        """Undo (or redo) the last stroke and the state change it made; False when none."""
        s, cur = self.session, self.session.current
        doc = cur.document if cur is not None else None
        if cur is None or doc is None or (doc.undo() if undo else doc.redo()) is None:
            return False
        self._history_of(doc)
        s.labels_changed(cur.name)  # the document is already back (thumbnails, Live)
        source, target = (self._undo, self._redo) if undo else (self._redo, self._undo)
        project = s.project
        if not source or project is None or project.read_only:
            s.save_current()
            return True
        target.append(project.state(cur.name))
        self._restore(source.pop())
        return True

    def _restore(self, state: ImageState) -> None:
        """Write the shown labels back with ``state``; no human label for the states that
        have none (unlabelled, predicted)."""
        s, cur = self.session, self.session.current
        if cur is None or cur.document is None or s.project is None:
            return
        if state in (ImageState.UNLABELLED, ImageState.PREDICTED):
            s.saver.clear_label(s.project, cur.name, state)
            cur.saved_revision = cur.document.revision
        else:
            cur.save(s.project, s.saver, state)
        s.state_changed(cur.name)

    # -- accept ------------------------------------------------------------------------------
    def may_accept(self, name: str) -> bool:
        """False when the user declines accepting an unsure, uncorrected prediction (asked
        once per image)."""
        project = self.session.project
        if project is None or project.state(name) != ImageState.PREDICTED:
            return True
        score = project.mean_confidence(name)
        limit = self.session.settings.confirm_accept_below
        if score is None or score >= limit or name in self.confirmed:
            return True
        if not self.session.ask("Accept an unsure prediction?",
                                f"The model is unsure of {name} (confidence "
                                f"{score * 100:.0f} %). Keep its labels as yours without "
                                "correcting them?"):
            return False
        self.confirmed.add(name)
        return True

    # -- un-review ---------------------------------------------------------------------------
    def can_unreview(self, name: str) -> bool:
        """A reviewed image with a prediction on disk can go back to predicted."""
        project = self.session.project
        return (project is not None and not project.read_only
                and project.state(name) == ImageState.REVIEWED
                and project.prediction_path(name).is_file())

    def unreview(self, name: str) -> bool:
        """Make ``name`` predicted again (its human label is removed; asks when the label
        differs from the prediction); True when done."""
        s, project = self.session, self.session.project
        if project is None or not self.can_unreview(name):
            return False
        cur = s.current if s.current is not None and s.current.name == name else None
        labels = cur.document.labels if cur is not None and cur.document else None
        if labels is None:
            labels = project.load_label(name)
        prediction = project.load_prediction(name)
        if (labels is not None and prediction is not None
                and not np.array_equal(labels, prediction)
                and not s.ask("Mark as not reviewed",
                              f"Your corrections of {name} will be dropped and the model's "
                              "prediction shown again. Go on?")):
            return False
        s.saver.clear_label(project, name, ImageState.PREDICTED)
        if cur is not None and prediction is not None:
            cur.document = MaskDocument(prediction)
            cur.saved_revision = cur.document.revision
            self.canvas.set_document(cur.document)
            s.labels_changed(name)
        s.state_changed(name)
        return True

    def unreview_current(self) -> None:
        """The Model menu's action: un-review the shown image."""
        if self.session.current is not None:
            self.unreview(self.session.current.name)

    def menu_for(self, name: str) -> QMenu:
        """The context menu of image ``name`` (list and canvas)."""
        menu = QMenu(self._parent)
        action = menu.addAction("Mark as not reviewed", lambda: self.unreview(name))
        action.setEnabled(self.can_unreview(name))
        action.setToolTip("Back to the model's prediction; the image is predicted again")
        return menu

    def show_menu(self, name: str | None, pos: QPoint) -> None:
        """Pop up :meth:`menu_for` at global ``pos`` (non-blocking)."""
        if name:
            self.menu_for(name).popup(pos)

    # -- review actions (Review next, Accept, Use as example) ---------------------------------
    def review_next(self) -> None:
        """Show the least confident predicted image (other than the current one)."""
        project = self.session.project
        if project is None:
            return
        cur = self.session.current
        current = cur.name if cur is not None else None
        queue = [n for n in project.review_queue() if n != current]
        if not queue:
            self.session.status("Nothing left to review.", 5000)
            return
        self.session.request_image(queue[0])
        self.canvas.show_predictions(True)

    def accept(self) -> None:
        """Keep the shown prediction (with any corrections) as the human label; go on."""
        cur, project = self.session.current, self.session.project
        if cur is None or project is None or cur.document is None or project.read_only:
            return
        if (project.state(cur.name) == ImageState.UNLABELLED
                and not has_painting(cur.document.labels)):
            return  # nothing to accept
        if not self.may_accept(cur.name):
            return  # an unsure prediction, and the user chose to look again
        # Accepting keeps the labels; an example stays an example (it was demoted).
        keep = project.state(cur.name) == ImageState.SUPPORT
        cur.save(project, self.session.saver,
                 ImageState.SUPPORT if keep else ImageState.REVIEWED)
        self.session.state_changed(cur.name)
        self.review_next()

    def toggle_support(self) -> None:
        """Add the shown image to the examples (or take it out again)."""
        cur, project = self.session.current, self.session.project
        if cur is None or project is None or cur.document is None or project.read_only:
            return
        if project.state(cur.name) == ImageState.SUPPORT:
            project.set_state(cur.name, ImageState.REVIEWED, save=False)
            self.session.saver.save_project(project)
        else:
            cur.save(project, self.session.saver, ImageState.SUPPORT)
        self.session.state_changed(cur.name)
