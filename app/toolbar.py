"""The window's tool bar (tools, brush size, overlay opacity, model actions) and status bar."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSlider, QSpinBox

if TYPE_CHECKING:
    from app.main_window import MainWindow


def build_toolbar(window: MainWindow) -> tuple[QSpinBox, QSlider]:
    """Add the tool bar to ``window`` (its ``actions_`` must exist); returns the brush-size
    spin box and the overlay-opacity slider."""
    a = window.actions_
    bar = window.addToolBar("Tools")
    bar.setObjectName("toolbar_tools")
    for action in (a.open_folder, None, a.brush, a.eraser, a.fill, a.lasso, None):
        bar.addSeparator() if action is None else bar.addAction(action)
    brush_size = QSpinBox()
    brush_size.setRange(1, 500)
    brush_size.setSuffix(" px")
    brush_size.setToolTip("Brush radius ([ and ])")
    bar.addWidget(QLabel(" Size "))
    bar.addWidget(brush_size)
    opacity = QSlider(Qt.Orientation.Horizontal)
    opacity.setRange(0, 100)
    opacity.setFixedWidth(110)
    opacity.setToolTip("Overlay opacity")
    bar.addWidget(QLabel("  Opacity "))
    bar.addWidget(opacity)
    bar.addSeparator()
    for action in (a.show_predictions, a.low_confidence, None, a.undo, a.redo, None,
                   a.fit, a.actual, None, a.learn, a.auto_label):
        bar.addSeparator() if action is None else bar.addAction(action)
    return brush_size, opacity


def build_status_bar(window: MainWindow) -> tuple[QLabel, QLabel, QLabel]:
    """Add the status bar's labels: (cursor position, model status, device)."""
    position, model_status, device = QLabel(), QLabel("No model"), QLabel("Device: –")
    bar = window.statusBar()
    bar.addWidget(position, 1)
    bar.addPermanentWidget(model_status)
    bar.addPermanentWidget(device)
    return position, model_status, device
