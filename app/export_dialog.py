"""File > Export…: the project's labels as PNG, COCO, YOLO-seg or labelme, in a worker.

The writing is the CLI's too (:func:`engine.io.formats.exchange.write_format`); this module only
chooses what to export, runs it on a worker thread and shows the progress and the counts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
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
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.jobs import Job
from engine.io.formats import Sample, count_instances

if TYPE_CHECKING:
    from app.session import Session

FORMATS = (("png", "PNG label maps (one PNG per image)"),
           ("coco", "COCO JSON (annotations.json)"),
           ("yolo", "YOLO-seg (labels/*.txt + data.yaml)"),
           ("labelme", "labelme JSON (one file per image)"))


class ExportCancelled(Exception):
    """The user pressed Cancel while exporting."""


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: images, objects (connected components), skipped files."""

    images: int
    objects: int
    notes: tuple[str, ...]
    out_dir: Path


def export_job(fmt: str, masks: dict[str, tuple[Path, Path]], classes: Any, out_dir: Path,
               image_folder: Path, progress: Callable[[int, int], None],
               cancel: threading.Event) -> ExportSummary:
    """Write ``masks`` (``stem -> (image, label PNG)``) as ``fmt``; worker thread.

    ``progress(done, total)`` is called after every label map read; setting ``cancel``
    stops at the next one (raises :class:`ExportCancelled`)."""
    from engine.io.formats.exchange import write_format

    done, objects, total = 0, 0, len(masks)

    def on_sample(sample: Sample) -> None:
        nonlocal done, objects
        if cancel.is_set():
            raise ExportCancelled("export cancelled")
        done += 1
        objects += count_instances(sample.labels)
        progress(done, total)

    out_dir.mkdir(parents=True, exist_ok=True)
    notes = write_format(fmt, masks, classes, out_dir, image_folder, on_sample)
    return ExportSummary(done, objects, tuple(notes), out_dir)


class _Relay(QObject):
    """Carries progress from the worker thread to the dialog (queued signal)."""

    progressed = Signal(int, int)


class ExportDialog(QDialog):
    """Choose format, what to include and the folder; export with a progress bar."""

    exported = Signal(object)  # ExportSummary, after a successful export

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export labels")
        self.session = session
        self.job: Job | None = None
        self._cancel = threading.Event()
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._on_progress)
        self._build()

    def _build(self) -> None:
        self.format_box = QComboBox()
        for key, text in FORMATS:
            self.format_box.addItem(text, key)
        self.labels_only = QRadioButton("Human labels only (examples and reviewed images)")
        self.with_predictions = QRadioButton(
            "Human labels, and predictions of the images without one")
        self.labels_only.setChecked(True)
        self.folder_edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Format", self.format_box)
        form.addRow("Include", self.labels_only)
        form.addRow("", self.with_predictions)
        form.addRow("Folder", _wrap(row))
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self._on_close_clicked)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for widget in (self.progress, self.result, self.buttons):
            layout.addWidget(widget)
        self.setMinimumWidth(520)

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into folder",
                                                  self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def start(self) -> None:
        """Export with the chosen options on a worker thread."""
        from engine.io.formats.exchange import project_labels

        project = self.session.project
        out = self.folder_edit.text().strip()
        if project is None or self.job is not None:
            return
        if not out:
            self.result.setText("Choose the folder to export into.")
            return
        self.session.flush()  # the shown image's last strokes are part of the export
        masks = project_labels(project, self.with_predictions.isChecked())
        self._cancel.clear()
        self._set_running(True, len(masks))
        self.job = Job(export_job, self.format_box.currentData(), masks, list(project.classes),
                       Path(out), project.image_folder, self._relay.progressed.emit,
                       self._cancel)
        self.job.returned.connect(self._on_returned)
        self.job.errored.connect(self._on_errored)
        self.job.finished.connect(self._on_finished)

    def _set_running(self, running: bool, total: int = 0) -> None:
        self.export_button.setEnabled(not running)
        self.close_button.setText("Cancel" if running else "Close")
        self.progress.setVisible(running)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        if running:
            self.result.setText(f"Exporting {total} images…")

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _on_returned(self, summary: ExportSummary) -> None:
        text = (f"Exported {summary.images} images with {summary.objects} objects to "
                f"{summary.out_dir}.")
        if summary.notes:
            text += f"\n{len(summary.notes)} skipped:\n" + "\n".join(summary.notes[:10])
        self.result.setText(text)
        self.exported.emit(summary)

    def _on_errored(self, message: str) -> None:
        cancelled = "ExportCancelled" in message
        self.result.setText("Export cancelled: the folder may hold part of the files."
                            if cancelled else f"Export failed: {message}")

    def _on_finished(self, _cancelled: bool) -> None:
        self.job = None
        self._set_running(False)

    def _on_close_clicked(self) -> None:
        if self.job is not None:
            self._cancel.set()  # stops at the next image; finished re-enables the dialog
        else:
            self.close()

    def reject(self) -> None:
        self._on_close_clicked()  # Escape / the title bar's close: cancel first


def _wrap(layout: QHBoxLayout) -> QWidget:
    widget = QWidget()
    layout.setContentsMargins(0, 0, 0, 0)
    widget.setLayout(layout)
    return widget
