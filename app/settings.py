"""App preferences: one typed schema, defaults in code, only changed values on disk.

The file is ``<user config dir>/distillfss/settings.json`` (``DISTILLFSS_CONFIG_DIR``
overrides the folder, which is what the tests do).  Window geometry and dock state
live in ``QSettings`` instead (see :mod:`app.main_window`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.io.images import atomic_write

SCHEMA_VERSION = 1
MAX_RECENT = 8


@dataclass
class AppSettings:
    """User preferences with their defaults."""

    recent_folders: list[str] = field(default_factory=list)
    # image folder -> project folder chosen by the user (when the image folder is read-only)
    project_dirs: dict[str, str] = field(default_factory=dict)
    brush_size: int = 25   # diameter painted, pixels (odd: a disc centred on a pixel)
    eraser_size: int = 25  # the eraser keeps its own size
    overlay_opacity: float = 0.5
    tool: str = "brush"
    show_low_confidence: bool = False
    low_confidence_threshold: float = 0.6
    flip_average: bool = False  # predictions averaged over the mirror images (~3x slower)
    offered_demo: bool = False
    # Accepting an uncorrected prediction less sure than this asks first (the score is in
    # [0.5, 1], see engine.infer.predict.Prediction.confidence_score).
    confirm_accept_below: float = 0.65
    last_images: dict[str, str] = field(default_factory=dict)  # image folder -> last image

    def add_recent(self, folder: str) -> None:
        """Put ``folder`` first in the recent list."""
        items = [f for f in self.recent_folders if f != folder]
        self.recent_folders = [folder, *items][:MAX_RECENT]


def config_dir() -> Path:
    """Folder of the settings file."""
    override = os.environ.get("DISTILLFSS_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("distillfss", appauthor=False))


def load_settings() -> AppSettings:
    """Read the settings; unknown keys and bad values fall back to the defaults."""
    path = config_dir() / "settings.json"
    settings = AppSettings()
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return settings
    defaults = asdict(AppSettings())
    for f in fields(AppSettings):
        if f.name in data and type(data[f.name]) is type(defaults[f.name]):
            setattr(settings, f.name, data[f.name])
    return settings


def save_settings(settings: AppSettings) -> None:
    """Write the values that differ from the defaults (atomic; errors are ignored)."""
    defaults = asdict(AppSettings())
    sparse = {k: v for k, v in asdict(settings).items() if defaults[k] != v}
    sparse["schema_version"] = SCHEMA_VERSION
    text = json.dumps(sparse, indent=2).encode("utf-8")
    try:
        atomic_write(config_dir() / "settings.json", lambda f: f.write(text))
    except OSError:
        pass  # preferences are a convenience; never fail the app over them
