"""Label formats: PNG label maps, COCO JSON, YOLO-seg txt and labelme JSON, both directions.

Every exporter takes :class:`Sample` objects (a stem, an ``(H, W) uint8`` label map and the
image path) and a class list; every importer returns :class:`ImportedLabels` (label maps by
stem, class names by id, one note per thing skipped) or raises :class:`FormatError`.

How each format keeps holes (round trips are exact on the shared dataset masks):

- ``png``: pixels, exact.
- ``coco``: components with holes are written as RLE, exact; others as polygons.
- ``labelme``: each hole is a ``_background_`` polygon after its component (labelme paints
  shapes in order), exact.
- ``yolo``: holes joined to the outer ring by zero-width cuts, exact under the even-odd rule.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .coco import export_coco, import_coco
from .common import BACKGROUND_LABEL, FormatError, ImportedLabels, Sample
from .geometry import count_instances
from .labelme import export_labelme, import_labelme
from .png import export_png, import_png
from .yolo import export_yolo, import_yolo

__all__ = [
    "BACKGROUND_LABEL",
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "FormatError",
    "ImportedLabels",
    "Sample",
    "count_instances",
    "export_coco",
    "export_labelme",
    "export_labels",
    "export_png",
    "export_yolo",
    "import_coco",
    "import_labelme",
    "import_labels",
    "import_png",
    "import_yolo",
]

EXPORT_FORMATS = ("png", "coco", "yolo", "labelme")
IMPORT_FORMATS = ("png", "coco", "yolo", "labelme")


def export_labels(fmt: str, samples: Iterable[Sample], classes: Any,
                  out_dir: str | os.PathLike, image_folder: str | os.PathLike | None = None
                  ) -> Path:
    """Write ``samples`` in format ``fmt`` under ``out_dir``; return the main output path.

    ``png`` -> ``out_dir/<stem>.png``; ``coco`` -> ``out_dir/annotations.json``;
    ``yolo`` -> ``out_dir/labels/<stem>.txt`` + ``out_dir/data.yaml``;
    ``labelme`` -> ``out_dir/<stem>.json``.  Raises ``ValueError`` for an unknown format.
    """
    out_dir = Path(out_dir)
    if fmt == "png":
        export_png(samples, classes, out_dir)
    elif fmt == "coco":
        return export_coco(samples, classes, out_dir)
    elif fmt == "yolo":
        return export_yolo(samples, classes, out_dir, image_folder)
    elif fmt == "labelme":
        export_labelme(samples, classes, out_dir)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    return out_dir


def import_labels(fmt: str, path: str | os.PathLike,
                  image_folder: str | os.PathLike | None = None) -> ImportedLabels:
    """Read labels of format ``fmt`` from ``path`` (YOLO needs ``image_folder`` for sizes)."""
    if fmt == "png":
        return import_png(path)
    if fmt == "coco":
        return import_coco(path)
    if fmt == "yolo":
        return import_yolo(path, image_folder)
    if fmt == "labelme":
        return import_labelme(path)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(IMPORT_FORMATS)}")
