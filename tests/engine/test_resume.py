"""``distillfss label`` on real subprocesses: odd files, SIGKILL and resume, label formats."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from odd_files import make_odd_folder

from engine.io.images import display_name, read_image, read_mask

ROOT = Path(__file__).resolve().parents[2]
# the bundled CC0 demo images: always present, so these tests run in CI too
NUCLEI = ROOT / "resources" / "demo" / "nuclei"
pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model learned in a few seconds from 2 nuclei images (accuracy does not matter here)."""
    from engine.learning.train import LearnConfig, learn
    from engine.nn.modelfile import save_model

    pairs = sorted((NUCLEI / "images").glob("*.png"))[:2]
    images = [read_image(p) for p in pairs]
    masks = [read_mask(NUCLEI / "masks" / p.name) for p in pairs]
    cfg = LearnConfig(input_size=128, crop=96, total_views=4, max_steps=3, min_steps=1,
                      time_budget_s=None, loo_steps=0, device="cpu")
    gen = learn(images, masks, None, cfg)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            model = stop.value
            break
    path = tmp_path_factory.mktemp("model") / "tiny.dfss"
    save_model(model, path)
    return path


def _label(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_PROGRESS="1")
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "label", "--device", "cpu",
                             *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace")


def test_label_odd_folder_skips_bad_files_one_line_each(tiny_model: Path, tmp_path: Path) -> None:
    files = make_odd_folder(tmp_path / "in")
    proc = _label("--model", str(tiny_model), "--input", str(tmp_path / "in"),
                  "--output", str(tmp_path / "out"), "--format", "coco")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    bad = [f for f in files if f.error is not None]
    for f in bad:
        lines = [ln for ln in err.splitlines() if display_name(f.path.name) in ln]
        assert len(lines) == 1 and f.error in lines[0], (f.path.name, err)
    for f in files:
        if f.error is None:
            assert (tmp_path / "out" / f"{f.path.stem}.png").is_file(), f.path.name
    coco = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert len(coco["images"]) == len(files) - len(bad)


def test_sigkill_then_resume_finishes_without_damage(tiny_model: Path, tmp_path: Path) -> None:
    # 48 inputs (the 12 demo images under 4 names each): with fewer, a fast machine wrote every
    # output before the done file showed two lines and the kill came too late to test anything
    (tmp_path / "in").mkdir()
    for p in sorted((NUCLEI / "images").glob("*.png"))[:12]:
        for k in range(4):
            shutil.copy(p, tmp_path / "in" / f"{p.stem}_{k}.png")
    src = sorted((tmp_path / "in").glob("*.png"))
    out = tmp_path / "out"
    args = ("--model", str(tiny_model), "--input", str(tmp_path / "in"), "--output", str(out),
            "--batch-size", "1")
    proc = _label(*args)
    done_file = out / ".distillfss-done.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if done_file.is_file() and done_file.read_text().count("\n") >= 2:
            break
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    assert 0 < len(before) < len(src)
    for p in out.glob("*.png"):  # nothing half written: every visible output reads
        assert read_mask(p).shape == read_image(tmp_path / "in" / p.name).shape[:2]
    again = _label(*args)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    assert set(after) == {p.name for p in src}
    done = [n for n in before if before[n] == after[n]]
    assert len(done) >= len(before) - 1   # finished images were skipped, not redone
    for p in out.glob("*.png"):
        assert np.asarray(read_mask(p)).ndim == 2
