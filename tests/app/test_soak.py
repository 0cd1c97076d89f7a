"""Soak test: a long painting session must not corrupt Python's reference counts.

PySide6-Essentials 6.12.0 on Python < 3.12 releases references to ``None`` (every
``QGraphicsRectItem.setRect`` / ``setVisible``) and ``True`` (every signal emit) that it never
took; the interpreter then aborts within seconds of moving the mouse over the canvas
("none_dealloc: deallocating None").  pyproject.toml excludes that release; this test keeps
the exclusion honest.  It runs the real main window in a subprocess (an abort would
otherwise take pytest down with it): on 6.12.0 the subprocess aborts after ~0.5 s, on
6.11.3 it finishes with every count at or above its starting value.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from app_helpers import make_folder

SCRIPT = Path(__file__).with_name("soak_session.py")
MOVES, STROKES, EMITS = 20_000, 2_000, 3_000
SLACK = 10


@pytest.mark.slow
def test_long_painting_session_keeps_reference_counts(tmp_path: Path) -> None:
    make_folder(tmp_path / "images", n=3, size=(200, 300))
    # The checkout's own app/ and engine/ (not an installed copy from another checkout).
    root = str(SCRIPT.parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "DISTILLFSS_CONFIG_DIR": str(tmp_path / "config"),
           "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": path}
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "images"), str(MOVES), str(STROKES),
         str(EMITS)], capture_output=True, text=True, timeout=600, env=env, check=False)
    assert run.returncode == 0, (
        f"the session died (exit {run.returncode}):\n{run.stderr[-3000:]}")
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["moves"] >= MOVES + 9 * STROKES and report["emits"] == 2 * EMITS
    for name in ("None", "True", "False"):
        before, after = report["before"][name], report["after"][name]
        # A leaking build loses one reference per call: thousands here (6.12.0 aborts first).
        # Objects freed in between (the autosave writer's, the thumbnails') move a count by a
        # few either way (seen once under load: False 2854 -> 2853), hence the small margin.
        assert after >= before - SLACK, f"references to {name} fell from {before} to {after}"
