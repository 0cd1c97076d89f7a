"""Canvas speed: how long the GUI thread is busy for one gesture on a 4000 x 3000 image.

A real :class:`app.canvas.MaskCanvas` (offscreen Qt unless a display is set) receives mouse
events; each figure is the time from sending the event until the event loop is idle again
(the handler, the document edit, the overlay conversion, the scene update), median over
``--repeat`` gestures, each undone before the next.  Gestures: the Wand clicked inside a
1200 px disc and on the noisy background (which it selects almost whole: ~11 M pixels, the
worst case), the tolerance drag (one mouse move), and a Fill over the whole background.

    QT_QPA_PLATFORM=offscreen python benchmarks/canvas_speed.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
from common import ROOT, markdown_table, write_result
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication


def _image() -> np.ndarray:
    """The effort benchmark's test image: a flat disc on Gaussian noise."""
    rng = np.random.default_rng(0)
    image = rng.normal(90, 20, (3000, 4000, 3)).clip(0, 255).astype(np.uint8)
    yy, xx = np.ogrid[:3000, :4000]
    image[(yy - 1500) ** 2 + (xx - 2000) ** 2 < 600 ** 2] = (220, 200, 90)
    return image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "canvas-cpu.md")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # read when the app starts
    app = QApplication.instance() or QApplication([])
    from app.canvas import MaskCanvas, Tool
    from engine.edit.document import MaskDocument

    image = _image()
    view = MaskCanvas()
    view.resize(1200, 900)
    view.set_image(image)
    doc = MaskDocument.unpainted(image.shape[:2])
    view.set_document(doc)
    view.set_colors({1: (255, 0, 0)})
    view.show()
    app.processEvents()

    def send(kind: QMouseEvent.Type, scene: tuple[float, float], dx: int = 0) -> float:
        pos = view.mapFromScene(QPointF(*scene)) + QPoint(dx, 0)
        buttons = (Qt.MouseButton.NoButton if kind == QMouseEvent.Type.MouseButtonRelease
                   else Qt.MouseButton.LeftButton)
        event = QMouseEvent(kind, QPointF(pos), QPointF(view.viewport().mapToGlobal(pos)),
                            Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier)
        t = time.perf_counter()
        QApplication.sendEvent(view.viewport(), event)
        app.processEvents()
        return (time.perf_counter() - t) * 1000

    rows = []
    for tool, where, label in ((Tool.WAND, (2000, 1500), "Wand inside the disc"),
                               (Tool.WAND, (100, 100), "Wand on the background (~11 M px)"),
                               (Tool.FILL, (100, 100), "Fill on the background")):
        view.tool = tool
        times: dict[str, list[float]] = {"press": [], "move": [], "release": []}
        for i in range(args.repeat + 1):  # the first gesture also filters the image: apart
            press = send(QMouseEvent.Type.MouseButtonPress, where)
            move = send(QMouseEvent.Type.MouseMove, where, 6)
            release = send(QMouseEvent.Type.MouseButtonRelease, where, 6)
            assert doc.can_undo, f"{label}: nothing was painted"
            doc.undo()
            app.processEvents()
            if i == 0:
                first = press
                continue
            for k, v in (("press", press), ("move", move), ("release", release)):
                times[k].append(v)
        rows.append([label, f"{first:.0f}", *(f"{statistics.median(times[k]):.0f}"
                                               for k in ("press", "move", "release"))])
    header = ["gesture", "first press (ms)", "press (ms)", "move (ms)", "release (ms)"]
    write_result(args.out, markdown_table(header, rows)
                 + f"\n\n4000 x 3000 image, median of {args.repeat} gestures after a first "
                   f"one, platform {app.platformName()}.\n")
    view.smart.shutdown()


if __name__ == "__main__":
    main()
