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
    "read_image": "io.images", "read_mask": "io.images", "list_images": "io.images",
    "learn": "learning.train", "LearnConfig": "learning.config", "fit": "run", "drive": "run",
    "Predictor": "infer.predict", "label_folder": "infer.batch",
    "load_model": "nn.modelfile", "save_model": "nn.modelfile", "demo_dir": "io.resources",
}

__all__ = [
    "LearnConfig", "Predictor", "__version__", "demo_dir", "drive", "fit", "label_folder",
    "learn", "list_images", "load_model", "read_image", "read_mask", "save_model",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
