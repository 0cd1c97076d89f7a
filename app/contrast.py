"""Display contrast: contrast limits (black and white levels) and auto-contrast.

Like napari's contrast limits: the grey values ``low..high`` are stretched over the
screen's ``0..255``.  Display only: the canvas maps a copy of its display pixmap; the
image in memory, the files and what the model sees never change.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QPushButton, QSlider, QWidget

AUTO_PERCENTILES = (0.5, 99.5)


def contrast_lut(low: int, high: int) -> np.ndarray:
    """(256,) uint8 table mapping ``low`` to 0 and ``high`` to 255, linear between."""
    low, high = int(low), int(max(high, low + 1))
    ramp = (np.arange(256, dtype=np.float32) - low) * (255.0 / (high - low))
    return np.clip(np.rint(ramp), 0, 255).astype(np.uint8)


def auto_limits(rgb: np.ndarray) -> tuple[int, int]:
    """Contrast limits from the 0.5 and 99.5 percentiles of an (H, W, 3) uint8 image
    (a subsample of at most ~1 M values keeps it fast on large images)."""
    arr = np.asarray(rgb)
    step = max(1, int(np.sqrt(arr.shape[0] * arr.shape[1] / 350_000)))
    low, high = np.percentile(arr[::step, ::step], AUTO_PERCENTILES)
    low, high = int(np.floor(low)), int(np.ceil(high))
    return (low, high) if high > low else (0, 255)


class ContrastPanel(QWidget):
    """Black and white level sliders, Auto and Reset."""

    limits_changed = Signal(int, int)  # (low, high) grey values

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low, self.high = QSlider(Qt.Orientation.Horizontal), QSlider(Qt.Orientation.Horizontal)
        for slider, value in ((self.low, 0), (self.high, 255)):
            slider.setRange(0, 255)
            slider.setValue(value)
            slider.valueChanged.connect(self._on_slider_moved)
        self.low.setToolTip("Black level: darker grey values than this show black")
        self.high.setToolTip("White level: brighter grey values than this show white")
        self.auto = QCheckBox("Auto")
        self.auto.setToolTip("Stretch each image's grey values (0.5-99.5 percentiles)")
        self.reset = QPushButton("Reset")
        self.reset.clicked.connect(lambda: self.set_limits(0, 255, auto=False))
        self.auto.toggled.connect(self._on_auto_toggled)
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 6, 6, 6)
        grid.addWidget(QLabel("Black"), 0, 0)
        grid.addWidget(self.low, 0, 1, 1, 2)
        grid.addWidget(QLabel("White"), 1, 0)
        grid.addWidget(self.high, 1, 1, 1, 2)
        grid.addWidget(self.auto, 2, 1)
        grid.addWidget(self.reset, 2, 2)
        grid.addWidget(QLabel("<small>Display only: files and the model's input are not "
                              "changed.</small>"), 3, 0, 1, 3)
        self._image: np.ndarray | None = None

    @property
    def limits(self) -> tuple[int, int]:
        """(low, high) grey values."""
        return self.low.value(), max(self.high.value(), self.low.value() + 1)

    def set_limits(self, low: int, high: int, auto: bool | None = None) -> None:
        """Move both sliders at once (one ``limits_changed``)."""
        for slider, value in ((self.low, low), (self.high, high)):
            slider.blockSignals(True)
            slider.setValue(int(value))
            slider.blockSignals(False)
        if auto is not None:
            self.auto.blockSignals(True)
            self.auto.setChecked(auto)
            self.auto.blockSignals(False)
        self.limits_changed.emit(*self.limits)

    def image_shown(self, rgb: np.ndarray | None) -> None:
        """A new image is shown: with Auto on, its own limits."""
        self._image = rgb
        if self.auto.isChecked() and rgb is not None:
            self.set_limits(*auto_limits(rgb))

    def _on_slider_moved(self) -> None:
        if self.low.value() >= self.high.value():  # keep low < high
            self.high.blockSignals(True)
            self.high.setValue(min(255, self.low.value() + 1))
            self.high.blockSignals(False)
        self.auto.blockSignals(True)
        self.auto.setChecked(False)  # a hand-set level is no longer automatic
        self.auto.blockSignals(False)
        self.limits_changed.emit(*self.limits)

    def _on_auto_toggled(self, on: bool) -> None:
        if on and self._image is not None:
            self.set_limits(*auto_limits(self._image))
        elif not on:
            self.set_limits(0, 255)
