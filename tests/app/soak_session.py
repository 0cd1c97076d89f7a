"""A long painting session in the real main window, run as a script in a subprocess.

``python soak_session.py FOLDER MOVES STROKES EMITS`` opens the main window on FOLDER, then
sends MOVES mouse moves over the canvas (no button: the brush outline follows the cursor),
STROKES brush strokes (press, moves, release; every tenth one undone and redone) and EMITS
emits of a Python-defined signal, processing events as a user's session would.  It prints
one JSON line: the reference counts of ``None``, ``True`` and ``False`` after a warm-up and
after the session, and the event counts.  A PySide6 build that releases references it never
took (6.12.0 on Python < 3.12) makes the counts fall, or aborts the interpreter
("none_dealloc: deallocating None"): ``test_soak.py`` fails either way.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from app_helpers import send_event
from PySide6.QtCore import QObject, QPointF, QThreadPool, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow

Move = QMouseEvent.Type.MouseMove


class _Pinger(QObject):
    ping = Signal(int)
    flag = Signal(bool)


def _counts() -> dict[str, int]:
    """Counts once background work (thumbnails, autosave) is done: threads that are still
    running hold references of their own for a while."""
    QThreadPool.globalInstance().waitForDone(30_000)
    QApplication.processEvents()
    gc.collect()
    return {"None": sys.getrefcount(None), "True": sys.getrefcount(True),
            "False": sys.getrefcount(False)}


def _moves(window: MainWindow, n: int) -> None:
    canvas = window.canvas
    w, h = canvas.document.shape[1], canvas.document.shape[0]  # type: ignore[union-attr]
    for i in range(n):
        x, y = (i * 7) % w + 0.5, (i * 13) % h + 0.5
        send_event(canvas, Move, canvas.mapFromScene(QPointF(x, y)))
        if i % 500 == 0:
            QApplication.processEvents()


def _strokes(window: MainWindow, n: int) -> int:
    canvas, moves = window.canvas, 0
    w, h = canvas.document.shape[1], canvas.document.shape[0]  # type: ignore[union-attr]
    for i in range(n):
        x0, y0 = (i * 11) % (w - 20) + 5, (i * 17) % (h - 20) + 5
        path = [canvas.mapFromScene(QPointF(x0 + k, y0 + k / 2)) for k in range(10)]
        send_event(canvas, QMouseEvent.Type.MouseButtonPress, path[0])
        for p in path[1:]:
            send_event(canvas, Move, p)
        send_event(canvas, QMouseEvent.Type.MouseButtonRelease, path[-1])
        moves += len(path) - 1
        if i % 10 == 9:
            window.actions_.undo.trigger()
            window.actions_.redo.trigger()
        if i % 50 == 0:
            QApplication.processEvents()
    return moves


def _emits(n: int) -> None:
    pinger, seen = _Pinger(), []
    pinger.ping.connect(seen.append)
    pinger.flag.connect(seen.append)
    for i in range(n):
        pinger.ping.emit(i)
        pinger.flag.emit(i % 2 == 0)
    if len(seen) != 2 * n:
        raise SystemExit(f"only {len(seen)} of {2 * n} signals arrived")


def _isolate_settings(folder: str) -> None:
    """Preferences and QSettings in a folder of the test's (never the user's real ones)."""
    from PySide6.QtCore import QSettings

    config = os.environ.get("DISTILLFSS_CONFIG_DIR") or str(Path(folder).parent / "config")
    os.environ["DISTILLFSS_CONFIG_DIR"] = config
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
            # QSettings(org, app) uses the native format: an INI file on Linux too
            QSettings.setPath(fmt, scope, config)


def main(folder: str, moves: int, strokes: int, emits: int) -> None:
    _isolate_settings(folder)
    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1200, 800)
    window.show()
    if not window.projects.open_folder(folder) or window.canvas.document is None:
        raise SystemExit(f"could not open {folder}")
    window.brush_size.setValue(3)
    # Warm-up: every code path once, so caches filled on first use do not count as a change.
    _moves(window, 200)
    _strokes(window, 12)
    _emits(50)
    app.processEvents()
    before = _counts()
    _moves(window, moves)
    stroke_moves = _strokes(window, strokes)
    _emits(emits)
    app.processEvents()
    after = _counts()
    window.saver.flush()
    window.close()
    app.processEvents()
    print(json.dumps({"before": before, "after": after, "moves": moves + stroke_moves,
                      "strokes": strokes, "emits": 2 * emits}))


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:5]))
