"""The classes panel: add, rename, recolour, delete classes; pick the class that paints.

Above the list, the *Background* button picks the Background brush (the window connects
it to its action) and a short text says how sparse painting is read.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.actions import SCRIBBLE_HELP
from app.layers import BACKGROUND_RGBA
from engine.io.labels import ClassInfo
from engine.io.project import Project, ProjectError


def _swatch(color: tuple[int, int, int]) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(QColor(*color))
    return QIcon(pix)


class ClassesPanel(QWidget):
    """Edits ``project.classes``; the selected class is the one the brush paints."""

    active_class_changed = Signal(int)   # class id
    class_picked = Signal(int)           # a class row was clicked (the user wants to paint it)
    classes_changed = Signal()           # names / colours / ids changed (labels may be remapped)
    class_delete_requested = Signal(int)  # confirmed: run the deletion (app.class_deletion)
    class_deleted = Signal(int)
    class_delete_failed = Signal()      # nothing was changed (the disk is full, say)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._on_row_changed)
        self.list.itemDoubleClicked.connect(lambda _item: self.rename_current())
        self.list.itemClicked.connect(
            lambda item: self.class_picked.emit(int(item.data(Qt.ItemDataRole.UserRole))))
        self.background_button = QPushButton(_swatch(BACKGROUND_RGBA[:3]), "Background (G)")
        self.background_button.setCheckable(True)
        self.background_button.setToolTip("The Background brush paints what is not a class. "
                                          + SCRIBBLE_HELP)
        self.help = QLabel(SCRIBBLE_HELP)
        self.help.setWordWrap(True)
        self.help.setObjectName("hint")
        self.add_button = QPushButton("Add")
        self.rename_button = QPushButton("Rename")
        self.color_button = QPushButton("Colour")
        self.delete_button = QPushButton("Delete")
        self.add_button.clicked.connect(lambda: self.add_class())
        self.rename_button.clicked.connect(lambda: self.rename_current())
        self.color_button.clicked.connect(lambda: self.recolor_current())
        self.delete_button.clicked.connect(lambda: self.delete_current())
        buttons = QHBoxLayout()
        for b in (self.add_button, self.rename_button, self.color_button, self.delete_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.background_button)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.help)

    def set_project(self, project: Project | None) -> None:
        """Show the classes of ``project``; adds a first class to a project that has none."""
        self.project = project
        if project is not None and not project.classes and not project.read_only:
            project.add_class("object")
        self._refill(select_id=1)

    @property
    def active_class(self) -> int:
        """Id of the selected class (1 when nothing is selected)."""
        item = self.list.currentItem()
        return int(item.data(Qt.ItemDataRole.UserRole)) if item is not None else 1

    def select_class(self, class_id: int) -> None:
        """Make ``class_id`` the painting class (number keys 1..9)."""
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == class_id:
                self.list.setCurrentRow(row)

    def _refill(self, select_id: int | None = None) -> None:
        keep = select_id if select_id is not None else self.active_class
        self.list.blockSignals(True)
        self.list.clear()
        for c in self.project.classes if self.project is not None else []:
            item = QListWidgetItem(_swatch(c.color), f"{c.id}  {c.name}")
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.set_editable(True)
        self.select_class(min(keep, self.list.count()) or 1)
        self.classes_changed.emit()

    def _on_row_changed(self, _row: int) -> None:
        self.active_class_changed.emit(self.active_class)

    # -- editing (dialogs are skipped when the caller passes the value) ------------------
    def add_class(self, name: str | None = None) -> ClassInfo | None:
        """Add a class (asks for the name when ``name`` is None) and select it."""
        if self.project is None:
            return None
        if name is None:
            name, ok = QInputDialog.getText(self, "Add class", "Name of the new class:")
            if not ok:
                return None
        try:
            cls = self.project.add_class(name)
        except (OSError, ProjectError) as exc:
            self._failed("Add class", exc)
            return None
        self._refill(select_id=cls.id)
        return cls

    def _failed(self, title: str, exc: Exception) -> None:
        QMessageBox.warning(self, title, f"Could not save the project: {exc}")
        self._refill()

    def rename_current(self, name: str | None = None) -> None:
        """Rename the selected class."""
        if self.project is None or self.list.currentItem() is None:
            return
        cls = self.project.class_by_id(self.active_class)
        if name is None:
            name, ok = QInputDialog.getText(self, "Rename class", "New name:", text=cls.name)
            if not ok:
                return
        try:
            self.project.rename_class(cls.id, name)
        except (OSError, ProjectError) as exc:
            self._failed("Rename class", exc)
            return
        self._refill()

    def recolor_current(self, color: tuple[int, int, int] | None = None) -> None:
        """Give the selected class a new colour."""
        if self.project is None or self.list.currentItem() is None:
            return
        cls = self.project.class_by_id(self.active_class)
        if color is None:
            chosen = QColorDialog.getColor(QColor(*cls.color), self, "Class colour")
            if not chosen.isValid():
                return
            color = (chosen.red(), chosen.green(), chosen.blue())
        try:
            self.project.recolor_class(cls.id, color)
        except (OSError, ProjectError) as exc:
            self._failed("Class colour", exc)
            return
        self._refill()

    def delete_current(self, confirm: bool = True) -> None:
        """Ask to delete the selected class (its pixels become background in every mask):
        emits ``class_delete_requested``; :meth:`deletion_done` follows."""
        if self.project is None or self.list.currentItem() is None:
            return
        if len(self.project.classes) <= 1:
            QMessageBox.information(self, "Delete class", "A project keeps at least one class.")
            return
        cls = self.project.class_by_id(self.active_class)
        if confirm and QMessageBox.question(
                self, "Delete class",
                f"Delete '{cls.name}'? Its pixels become background in every mask.",
        ) != QMessageBox.StandardButton.Yes:
            return
        self.class_delete_requested.emit(cls.id)

    def deletion_done(self, cls: ClassInfo, unreadable: list[str], error: str | None) -> None:
        """Show the outcome of deleting ``cls`` (``error``: why it failed; ``unreadable``:
        masks left as they were) and emit ``class_deleted`` or ``class_delete_failed``."""
        if self.project is None:
            return
        if error is not None:
            if cls in self.project.classes:  # failed before anything changed
                QMessageBox.warning(self, "Delete class", f"'{cls.name}' was not deleted; no "
                                    f"mask was changed: {error}")
                self.class_delete_failed.emit()
                return
            # The masks were remapped; only project.json could not be written (saved later).
            QMessageBox.warning(self, "Delete class", f"'{cls.name}' was deleted, but the "
                                f"project file could not be saved: {error}")
        self._refill(select_id=max(1, cls.id - 1))
        self.class_deleted.emit(cls.id)
        if unreadable:
            QMessageBox.warning(self, "Delete class", "These masks could not be read and were "
                                "left as they are: " + ", ".join(unreadable[:10])
                                + (" …" if len(unreadable) > 10 else ""))

    def set_editable(self, on: bool) -> None:
        """Turn the class buttons on or off (off while a class is deleted); a read-only
        project stays off."""
        editable = on and self.project is not None and not self.project.read_only
        for b in (self.add_button, self.rename_button, self.color_button, self.delete_button):
            b.setEnabled(editable)
