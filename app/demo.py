"""The bundled demo images, copied to a writable folder so a project can live beside them."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.io.images import list_images
from engine.io.resources import demo_dir


def user_demo_folder() -> Path:
    """Where the demo images are copied: ``<user data dir>/demo-nuclei``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("distillfss", appauthor=False)) / "demo-nuclei"


def copy_demo(target: Path | None = None) -> Path:
    """Copy the demo images (not their masks) to ``target``; existing files are kept."""
    target = target or user_demo_folder()
    target.mkdir(parents=True, exist_ok=True)
    for image in list_images(demo_dir() / "images"):
        if not (target / image.name).exists():
            shutil.copy2(image, target / image.name)
    return target
