"""The model panel: Learn class, Auto-label folder, review, and the running job's progress."""

from __future__ import annotations

import html
import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from engine.learning.estimate import (
    ESTIMATE_CAVEAT,
    HELD_OUT_CAVEAT,
    Estimate,
    coverage,
    range_text,
    range_verdict,
)


def format_eta(seconds: float | None) -> str:
    """'1 min 05 s', '12 s' or '' for unknown."""
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return ""
    s = round(seconds)
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


class JobPanel(QWidget):
    """Buttons for the closed loop plus a progress area shared by the jobs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.learn_button = QPushButton("Learn class")
        self.label_button = QPushButton("Auto-label folder")
        self.review_button = QPushButton("Review next")
        self.accept_button = QPushButton("Accept")
        self.support_button = QPushButton("Use as example")
        self.cancel_button = QPushButton("Cancel")
        self.learn_button.setObjectName("primary")
        self.label_button.setObjectName("primary")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.detail = QLabel()
        self.model_label = QLabel("No model yet. Paint a few examples, then press Learn class.")
        for label in (self.detail, self.model_label):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid = QGridLayout()
        grid.addWidget(self.learn_button, 0, 0)
        grid.addWidget(self.label_button, 0, 1)
        grid.addWidget(self.review_button, 1, 0)
        grid.addWidget(self.accept_button, 1, 1)
        grid.addWidget(self.support_button, 2, 0, 1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(grid)
        layout.addWidget(self.progress)
        layout.addWidget(self.detail)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self._scrolling(self.model_label), 1)
        self.set_idle("")

    @staticmethod
    def _scrolling(label: QLabel) -> QScrollArea:
        """``label`` word-wrapped in a vertical scroll area: a long estimate scrolls instead
        of widening the dock or being clipped."""
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        area = QScrollArea()
        area.setWidget(label)
        area.setWidgetResizable(True)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # last resort
        area.setMinimumHeight(60)
        return area

    def set_busy(self, title: str) -> None:
        """A job started: show the progress area and Cancel."""
        self.learn_button.setEnabled(False)
        self.label_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)  # busy until the first progress record
        self.progress.setFormat(title)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.detail.setText(title)

    def set_progress(self, value: int, maximum: int, text: str, detail: str) -> None:
        """Update the bar (``maximum`` 0 = busy indicator) and the detail line."""
        self.progress.setRange(0, max(0, maximum))
        self.progress.setValue(min(value, maximum) if maximum else 0)
        self.progress.setFormat(text)
        self.detail.setText(detail)

    def set_idle(self, message: str) -> None:
        """No job runs: hide the progress area, show ``message``."""
        self.learn_button.setEnabled(True)
        self.label_button.setEnabled(True)
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.detail.setText(message)

    def set_model(self, name: str, miou: float | None, per_class: dict[str, float],
                  per_support: list[float | None] | None = None,
                  support_names: list[str] | None = None, estimating: bool = False,
                  note: str | None = None, estimate: Estimate | None = None,
                  no_estimate: str | None = None, scribbled: bool = False) -> None:
        """Show the active model: the estimated IoU range over the folder it labelled
        (``estimate``, once auto-labelled) with a verdict worded from the whole range, the
        held-out (leave-one-out) check and which examples the others do not cover
        (``estimating``: the model is in use, the check still runs; ``note``: shown instead
        when there is no check; ``no_estimate``: why the folder's labels get no estimate;
        ``scribbled``: some example is scribbles, so the check scores painted pixels only)."""
        lines = [f"<b>Model</b> {name}"]
        if estimate is not None:
            lines.append(f"Estimated IoU on the {estimate.images} images it labelled: "
                         f"<b>{range_text(estimate)}</b>")
            lines.append(range_verdict(estimate))
        if estimating or (note and miou is None):
            lines.append("In use. Checking it on your examples (leave-one-out)…"
                         if estimating else html.escape(note or ""))
            self.model_label.setText("<br>".join(lines))
            return
        if miou is not None:
            lines.append(f"Held-out check on your examples: <b>{miou * 100:.0f} %</b>"
                         + (" (on the pixels you painted)" if scribbled else ""))
            if len(per_class) > 1:
                lines.append(", ".join(f"{k} {v * 100:.0f} %" for k, v in per_class.items()))
        elif estimate is None:
            lines.append("No estimate yet: paint at least two examples for a held-out check, "
                         "auto-label the folder for an estimate over its images.")
        cover = coverage(per_support, support_names) if miou is not None else None
        if cover:  # file names may break after "_" (else one long name widens the panel)
            lines.append(html.escape(cover).replace("_", "_&#8203;"))
        if estimate is not None:
            lines.append(f"<small>{ESTIMATE_CAVEAT}</small>")
        elif no_estimate:
            lines.append(f"<small>No estimate over the folder: {html.escape(no_estimate)}."
                         "</small>")
        elif miou is not None:
            lines.append(f"<small>{HELD_OUT_CAVEAT}</small>")
        self.model_label.setText("<br>".join(lines))
