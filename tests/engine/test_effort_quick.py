"""The effort benchmark (simulated scribbling annotator) runs end to end in its quick mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def _quick_row(tmp_path: Path, *flags: str) -> list[str]:
    """Run ``effort.py --quick`` with ``flags``; the cells of its one draw's row."""
    out = tmp_path / "effort.md"
    proc = subprocess.run([sys.executable, "effort.py", "--quick", *flags, "--out", str(out)],
                          cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = next(line for line in out.read_text().splitlines() if line.startswith("| nuclei | 0 |"))
    return [c.strip() for c in row.strip("|").split("|")]


def test_effort_benchmark_quick_mode(tmp_path: Path) -> None:
    cells = _quick_row(tmp_path)
    complete, painted, student, forest = (float(c) for c in cells[2:6])
    assert 0 < painted < 20  # scribbles: a small part of the pixels
    assert all(0 <= v <= 100 for v in (complete, student, forest))


def test_effort_corrected_without_the_oneshot_student(tmp_path: Path) -> None:
    """``--no-oneshot --corrected``: only the Live-way student is learned and scored."""
    cells = _quick_row(tmp_path, "--no-oneshot", "--corrected", "--no-complete", "--no-forest")
    complete, painted, student, forest, corrected = cells[2:7]
    assert (complete, student, forest) == ("nan", "nan", "nan")
    assert 0 < float(painted) < 20 and 0 <= float(corrected) <= 100


def test_scribbles_follow_the_objects_and_stay_off_them() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scribbles import scribble

    from engine.io.labels import NOT_PAINTED

    mask = np.zeros((120, 160), np.uint8)
    mask[30:70, 40:90] = 1
    mask[80:100, 120:150] = 1
    s = scribble(mask, 6, np.random.default_rng(0))
    assert ((s == 1) & (mask == 0)).sum() == 0       # class strokes stay inside objects
    assert ((s == 0) & (mask == 1)).sum() == 0       # background strokes stay outside
    assert (s == 1).any() and (s == 0).any() and (s == NOT_PAINTED).mean() > 0.5
