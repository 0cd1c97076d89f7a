"""Shared helpers for the GUI tests: synthetic folders and simulated mouse drags."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.canvas import MaskCanvas
from app.main_window import MainWindow


def make_folder(folder: Path, n: int = 5, size: tuple[int, int] = (96, 128),
                seed: int = 0) -> dict[str, np.ndarray]:
    """Write ``n`` images with bright discs on a noisy dark background; return the truth
    masks by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    truth = {}
    for i in range(n):
        mask = np.zeros(size, np.uint8)
        for _ in range(3):
            cy, cx, r = rng.integers(15, h - 15), rng.integers(15, w - 15), rng.integers(7, 14)
            mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 1
        img = rng.normal(40, 10, (h, w, 3))
        img[mask == 1] = rng.normal(200, 15, (int(mask.sum()), 3))
        name = f"img{i:02d}.png"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / name)
        truth[name] = mask
    return truth


class Questions:
    """A fake for :attr:`Session.ask` (a modal box would block a test): answers with
    ``answers`` in turn, then Yes, and records each question as "title: text"."""

    def __init__(self, answers: tuple[bool, ...] = ()) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, title: str, text: str) -> bool:
        self.asked.append(f"{title}: {text}")
        return self.answers.pop(0) if self.answers else True


def new_window(qtbot, ask: Questions | None = None) -> MainWindow:
    """A shown main window (closed by qtbot at the end of the test), no folder open; its
    questions go to ``ask`` (a fresh :class:`Questions` when None)."""
    window = MainWindow(ask=ask or Questions())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_window(qtbot, folder: Path, ask: Questions | None = None) -> MainWindow:
    """:func:`new_window` with ``folder`` open."""
    window = new_window(qtbot, ask)
    assert window.projects.open_folder(folder)
    return window


def send_event(view: MaskCanvas, kind: QMouseEvent.Type, pos: QPoint,
          button: Qt.MouseButton = Qt.MouseButton.LeftButton) -> None:
    buttons = Qt.MouseButton.NoButton if kind == QMouseEvent.Type.MouseButtonRelease else button
    event = QMouseEvent(kind, QPointF(pos), QPointF(view.viewport().mapToGlobal(pos)), button,
                        buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), event)


def drag(view: MaskCanvas, points: list[tuple[float, float]]) -> None:
    """Left-press at the first image point, move through the others, release at the last."""
    at = [view.mapFromScene(QPointF(x, y)) for x, y in points]
    send_event(view, QMouseEvent.Type.MouseButtonPress, at[0])
    for p in at[1:]:
        send_event(view, QMouseEvent.Type.MouseMove, p)
    send_event(view, QMouseEvent.Type.MouseButtonRelease, at[-1])


class GapMeter:
    """Records the longest gap between ticks of a 10 ms main-thread timer."""

    def __init__(self) -> None:
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.worst = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()
