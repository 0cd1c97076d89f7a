"""DistillFSS Studio engine: learn a segmentation class from a few masks, label a folder.

Qt-free.  Long work is a generator that yields progress records and can be stopped between
yields; the CLI and the GUI are thin callers of the same generators.  The names below are
imported on first use (``import engine`` alone does not import torch); the README's *Python*
section shows them at work.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_LAZY = {
    "read_image": "io", "read_mask": "io", "list_images": "io",
    "learn": "train", "LearnConfig": "train", "fit": "run", "drive": "run",
    "Predictor": "predict", "label_folder": "batch",
    "load_model": "modelfile", "save_model": "modelfile", "demo_dir": "resources",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
