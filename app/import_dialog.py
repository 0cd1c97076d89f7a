"""File > Import…: labels from COCO, YOLO-seg, labelme or PNG masks become examples.

The reading and matching are the CLI's (:func:`engine.io.formats.import_labels`,
:func:`engine.io.formats.exchange.import_into_project`), run on a worker thread while the
dialog is window-modal (nothing else edits the project meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.jobs import Job

if TYPE_CHECKING:
    from app.session import Session

FORMATS = (("coco", "COCO JSON file"), ("yolo", "YOLO-seg dataset or labels folder"),
           ("labelme", "labelme JSON file or folder"), ("png", "Folder of PNG label maps"))


@dataclass(frozen=True)
class ImportSummary:
    """Label maps written into the project, and one note per thing skipped."""

    written: int
    notes: tuple[str, ...]


def import_job(project: Any, fmt: str, path: Path, overwrite: bool) -> ImportSummary:
    """Read labels of ``fmt`` at ``path`` and save them as examples; worker thread."""
    from engine.io.formats import import_labels
    from engine.io.formats.exchange import import_into_project

    imported = import_labels(fmt, path, project.image_folder)
    written, notes = import_into_project(project, imported, overwrite=overwrite)
    return ImportSummary(written, tuple(imported.notes + notes))


class ImportDialog(QDialog):
    """Choose format, file or folder, and whether existing labels are replaced."""

    imported = Signal(object)  # ImportSummary

    def __init__(self, session: Session, stop_jobs: Callable[[], None],
                 reload_view: Callable[[], None], parent: QWidget | None = None) -> None:
        """``stop_jobs``: stops learning and auto-labelling (they would write over the
        imported labels); ``reload_view``: shows the project's classes, states and labels
        again once the import ended."""
        super().__init__(parent)
        self.setWindowTitle("Import labels")
        self.setWindowModality(Qt.WindowModality.WindowModal)  # no painting while it runs
        self.session = session
        self._stop_jobs = stop_jobs
        self._reload_view = reload_view
        self.job: Job | None = None
        self.format_box = QComboBox()
        for key, text in FORMATS:
            self.format_box.addItem(text, key)
        self.path_edit = QLineEdit()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path_edit, 1)
        for text, folder in (("File…", False), ("Folder…", True)):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, f=folder: self._on_browse_clicked(f))
            row.addWidget(button)
        holder = QWidget()
        holder.setLayout(row)
        self.overwrite = QCheckBox("Replace labels that images already have")
        form = QFormLayout()
        form.addRow("Format", self.format_box)
        form.addRow("From", holder)
        form.addRow("", self.overwrite)
        self._build_bottom(form)

    def _build_bottom(self, form: QFormLayout) -> None:
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the importers report no steps
        self.progress.setVisible(False)
        self.result = QLabel("Imported labels become examples (matched to the images by "
                             "file name).")
        self.result.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.import_button = buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.import_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for widget in (self.progress, self.result, buttons):
            layout.addWidget(widget)
        self.setMinimumWidth(520)

    def _on_browse_clicked(self, folder: bool) -> None:
        path = (QFileDialog.getExistingDirectory(self, "Import from folder") if folder else
                QFileDialog.getOpenFileName(self, "Import from file", "",
                                            "Annotations (*.json *.txt *.yaml);;All files (*)")[0])
        if path:
            self.path_edit.setText(path)

    def start(self) -> None:
        """Import on a worker thread; the open image is saved first and shown again after."""
        project = self.session.project
        path = self.path_edit.text().strip()
        if project is None or self.job is not None or not path:
            return
        if project.read_only:
            self.result.setText("This folder is open read-only: nothing can be imported.")
            return
        self._stop_jobs()
        self.session.flush()
        self.import_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.progress.setVisible(True)
        self.result.setText("Importing…")
        self.job = Job(import_job, project, self.format_box.currentData(), Path(path),
                       self.overwrite.isChecked())
        self.job.returned.connect(self._on_returned)
        self.job.errored.connect(lambda msg: self.result.setText(f"Import failed: {msg}"))
        self.job.finished.connect(self._on_finished)

    def _on_returned(self, summary: ImportSummary) -> None:
        text = f"Imported {summary.written} label maps as examples."
        if summary.notes:
            text += f"\n{len(summary.notes)} skipped:\n" + "\n".join(summary.notes[:10])
        self.result.setText(text)
        self.imported.emit(summary)

    def _on_finished(self, _cancelled: bool) -> None:
        self.job = None
        self.import_button.setEnabled(True)
        self.close_button.setEnabled(True)
        self.progress.setVisible(False)
        self._reload_view()  # new classes, states and labels

    def reject(self) -> None:
        if self.job is None:  # the import cannot be stopped half-way
            super().reject()
