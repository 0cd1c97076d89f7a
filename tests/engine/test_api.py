"""``import engine`` as a library: lazy names, fit/drive, and the README's quickstart."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import engine

ROOT = Path(__file__).resolve().parents[2]


def test_import_engine_does_not_import_torch():
    code = "import sys, engine; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_lazy_names_resolve_to_the_engine_objects():
    from engine.infer.predict import Predictor
    from engine.learning.train import learn
    from engine.nn.modelfile import load_model

    assert engine.learn is learn and engine.Predictor is Predictor
    assert engine.load_model is load_model
    with pytest.raises(AttributeError):
        _ = engine.no_such_name


def test_drive_passes_records_and_returns_the_value():
    def gen():
        yield 1
        yield 2
        return "done"

    seen: list = []
    assert engine.drive(gen(), seen.append) == "done" and seen == [1, 2]


def test_drive_closes_the_generator_when_the_callback_cancels():
    closed = []

    def gen():
        try:
            while True:
                yield 0
        finally:
            closed.append(True)

    def stop(_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.drive(gen(), stop)
    assert closed == [True]


def test_readme_quickstart_runs(tmp_path, monkeypatch):
    """The README's Python quickstart, run as written on the bundled demo images."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert block, "README has no python quickstart"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block.group(1), "README quickstart", "exec"), namespace)  # noqa: S102 - the README's block
    labels = namespace["labels"]
    assert labels.dtype == np.uint8 and labels.max() >= 1
    assert (tmp_path / "nuclei.dfss").is_file()
