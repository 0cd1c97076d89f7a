"""The window's tool bar (tools, brush size, overlay opacity, model actions) and status bar."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QSlider, QSpinBox

if TYPE_CHECKING:
    from app.actions import Actions


def build_toolbar(window: QMainWindow, a: Actions) -> tuple[QSpinBox, QSlider]:
    """Add the tool bar with actions ``a`` to ``window``; returns the brush-size spin box and
    the overlay-opacity slider."""
    for action, short in ((a.open_folder, "Open"), (a.show_predictions, "Prediction"),
                          (a.low_confidence, "Unsure"), (a.fit, "Fit"), (a.actual, "100 %"),
                          (a.lasso, "Lasso"), (a.superpixel, "Superpixel"),
                          (a.take_prediction, "Take")):
        action.setIconText(short)  # tool buttons show this: the whole bar fits 1600 px
    bar = window.addToolBar("Tools")
    bar.setObjectName("toolbar_tools")
    for action in (a.open_folder, None, a.brush, a.background, a.eraser, a.fill, a.lasso, None,
                   a.box, a.wand, a.superpixel, a.take_prediction, None):
        bar.addSeparator() if action is None else bar.addAction(action)
    brush_size = QSpinBox()
    brush_size.setRange(1, 999)
    brush_size.setSingleStep(2)  # odd diameters: a disc centred on a pixel
    brush_size.setSuffix(" px")
    brush_size.setToolTip("Brush diameter in image pixels ([ and ])")
    # Typing a number stays possible after a click; keys go to the canvas otherwise.
    brush_size.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
    bar.addWidget(QLabel(" Size "))
    bar.addWidget(brush_size)
    opacity = QSlider(Qt.Orientation.Horizontal)
    opacity.setRange(0, 100)
    opacity.setFixedWidth(110)
    opacity.setToolTip("Overlay opacity")
    opacity.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
    bar.addWidget(QLabel("  Opacity "))
    bar.addWidget(opacity)
    bar.addSeparator()
    for action in (a.show_predictions, a.low_confidence, None, a.undo, a.redo, None,
                   a.fit, a.actual, None, a.learn, a.live, a.auto_label):
        bar.addSeparator() if action is None else bar.addAction(action)
    return brush_size, opacity


def build_status_bar(window: QMainWindow) -> tuple[QLabel, QLabel, QLabel, QLabel]:
    """Add the status bar's labels: (cursor position, the shown image's state in words,
    model status, device)."""
    position, state, model_status = QLabel(), QLabel(), QLabel("No model")
    device = QLabel("Device: –")
    bar = window.statusBar()
    bar.addWidget(position, 1)
    bar.addWidget(state, 2)
    bar.addPermanentWidget(model_status)
    bar.addPermanentWidget(device)
    return position, state, model_status, device


def initial_size(available: QSize, share: float) -> QSize:
    """The first window's size: ``share`` of the available screen in each direction."""
    return QSize(round(available.width() * share), round(available.height() * share))
