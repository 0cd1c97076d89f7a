"""PNG label maps (``<stem>.png``, pixel value = class id), both directions.

Export writes palette PNGs (the palette shows the class colours, the pixel values stay the
class ids), so any tool that reads the raw values gets the ids, and ``classes.json``
(``{"classes": [{"id", "name", "color"}]}``), so that names survive an import.  Import
accepts palette, grey, 16-bit and 0/255 binary masks (see :func:`engine.io.images.read_mask`);
holes are pixels, so they are kept exactly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.io.images import (
    ImageReadError,
    display_name,
    list_images,
    read_mask,
    write_png_atomic,
    write_text_atomic,
)
from engine.io.labels import default_color

from .common import FormatError, ImportedLabels, Sample, class_names, dump_json, load_json

CLASSES_FILE = "classes.json"

def palette(classes: Any) -> list[tuple[int, int, int]]:
    """RGB per class index 0..max id (0 black); colours from ``classes`` where they have one."""
    colors: dict[int, tuple[int, int, int]] = {}
    items = classes.items() if isinstance(classes, Mapping) else enumerate(classes, start=1)
    for key, c in items:
        if isinstance(c, Mapping):
            cid, color = int(c["id"]), c.get("color")
        else:
            cid, color = int(getattr(c, "id", key)), getattr(c, "color", None)
        colors[cid] = tuple(int(v) for v in color[:3]) if color is not None else (
            default_color(cid))
    top = max(colors, default=0)
    return [(0, 0, 0)] + [colors.get(i, default_color(i))
                          for i in range(1, top + 1)]


def export_png(samples: Iterable[Sample], classes: Any, out_dir: str | os.PathLike
               ) -> list[Path]:
    """Write ``out_dir/<stem>.png`` palette label maps; return the paths written.

    Parameters
    ----------
    samples : iterable of Sample
        Label maps, ``(H, W) uint8`` each.
    classes : class list
        Mapping or list of classes; colours are taken from ``color`` where present.
    out_dir : path
    """
    pal = palette(classes)
    names = class_names(classes)
    write_text_atomic(Path(out_dir) / CLASSES_FILE, dump_json({"classes": [
        {"id": k, "name": v, "color": list(pal[k])} for k, v in names.items()]}))
    written = []
    for s in samples:
        path = Path(out_dir) / f"{s.stem}.png"
        labels = np.asarray(s.labels, np.uint8)
        full = pal + [(128, 128, 128)] * (int(labels.max(initial=0)) + 1 - len(pal))
        write_png_atomic(path, labels, full)
        written.append(path)
    return written


def import_png(path: str | os.PathLike) -> ImportedLabels:
    """Read one mask image, or every image in a folder, as label maps.

    A ``masks`` subfolder is used when ``path`` has one (the dataset layout).  The ids in
    the files are kept; ``classes`` maps each id found to its name from a ``classes.json``
    beside the masks, or to ``""`` (no name known).
    Unreadable files are skipped with a note.

    Raises
    ------
    FormatError
        When ``path`` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{display_name(path)}: not found")
    if path.is_dir() and (path / "masks").is_dir():
        path = path / "masks"
    files = [path] if path.is_file() else list_images(path)
    out = ImportedLabels()
    for f in files:
        try:
            mask = read_mask(f)
        except ImageReadError as exc:
            out.notes.append(f"{exc} (skipped)")
            continue
        out.masks[f.stem] = mask
        for v in np.unique(mask):
            if v:
                out.classes.setdefault(int(v), "")
    known = _names_beside(path if path.is_dir() else path.parent, out)
    out.classes = {k: known.get(k, "") for k in sorted(out.classes)}
    return out


def _names_beside(folder: Path, out: ImportedLabels) -> dict[int, str]:
    if not (folder / CLASSES_FILE).is_file():
        return {}
    try:
        return class_names(load_json(folder / CLASSES_FILE)["classes"])
    except (FormatError, KeyError, TypeError, ValueError, AttributeError) as exc:
        out.notes.append(f"{display_name(folder / CLASSES_FILE)}: class names ignored ({exc})")
        return {}
