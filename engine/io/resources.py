"""Locate the bundled ``resources/`` folder from a source tree, a wheel or a frozen build."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """Return the folder holding the bundled resources (demo images, icons, style sheet).

    Looked up, in order: the PyInstaller bundle (``sys._MEIPASS/resources``), the source
    tree beside the ``engine`` package, and ``<prefix>/share/distillfss/resources`` (wheel).
    Raises ``FileNotFoundError`` when none exists.
    """
    candidates = []
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidates.append(Path(frozen) / "resources")
    candidates.append(Path(__file__).resolve().parents[2] / "resources")
    candidates.append(Path(sys.prefix) / "share" / "distillfss" / "resources")
    for c in candidates:
        if (c / "demo").is_dir():
            return c
    raise FileNotFoundError(
        "bundled resources not found (looked in: " + ", ".join(map(str, candidates)) + ")"
    )


def demo_dir() -> Path:
    """Return the bundled CC0 nuclei demo folder (``images/`` and ``masks/`` inside)."""
    return resources_dir() / "demo" / "nuclei"
