"""labelme JSON (one ``<stem>.json`` per image), both directions.

labelme paints a shape by truncating its vertices to integers and filling the polygon
with its outline (PIL ``ImageDraw.polygon(outline=1, fill=1)`` in
``labelme.utils.shape_to_mask``), shapes in file order.  The importer does the same, so a
file paints here as it does in labelme.

Export: one ``polygon`` shape per connected component, labelled with the class name, with
vertices a quarter pixel inside the pixel edges (they truncate to the component's own
pixels).  Holes: labelme has no holes, so each hole is written as a polygon labelled
``_background_`` (labelme's name for class 0) traced around the hole pixels, right after
its component and with the same ``group_id``; painting in file order cuts the hole out.
Where a hole touches its component only diagonally, the hole polygon may cover a piece of
the component, which is then written again after it.  Components are ordered by bounding
box area, largest first, so a component lying inside another's hole is painted after that
hole.  ``imagePath`` is relative to the JSON file; ``imageData`` is null.

Import: ``polygon``, ``rectangle`` and ``circle`` shapes are painted in file order
(``_background_`` paints 0); other shape types are skipped with a note.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from engine.io import decode
from engine.io.images import display_name, write_text_atomic

from .common import (
    BACKGROUND_LABEL,
    ClassBook,
    FormatError,
    ImportedLabels,
    Sample,
    dump_json,
    load_json,
    number,
    points_array,
    relative_path,
    stem_of,
)
from .geometry import fill_truncated, hole_mask, instances, region_rings

LABELME_VERSION = "5.5.0"


def export_labelme(samples: Iterable[Sample], classes: Any, out_dir: str | os.PathLike
                   ) -> list[Path]:
    """Write ``out_dir/<stem>.json`` for every sample; return the paths written.

    Parameters
    ----------
    samples : iterable of Sample
        Label maps, ``(H, W) uint8`` each.
    classes : class list
        Anything :func:`engine.io.formats.common.class_names` accepts.
    out_dir : path
    """
    out_dir = Path(out_dir)
    book = ClassBook(classes)
    written = []
    for s in samples:
        h, w = s.labels.shape
        image_path = (relative_path(s.image_path, out_dir) if s.image_path is not None
                      else s.image_name)
        data = {"version": LABELME_VERSION, "flags": {}, "shapes": _shapes(s.labels, book),
                "imagePath": image_path, "imageData": None, "imageHeight": h, "imageWidth": w}
        path = out_dir / f"{s.stem}.json"
        write_text_atomic(path, dump_json(data))
        written.append(path)
    return written


def _shapes(labels: np.ndarray, book: ClassBook) -> list[dict[str, Any]]:
    shapes = []
    insts = sorted(instances(labels), key=lambda i: -i.mask.size)  # stable: containers first
    for group, inst in enumerate(insts):
        shapes += _component_shapes(inst.mask, inst.x0, inst.y0, book.name(inst.class_id), group)
    return shapes


def _component_shapes(mask: np.ndarray, x0: int, y0: int, label: str, group: int
                      ) -> list[dict[str, Any]]:
    """Outer polygon(s), then ``_background_`` holes, then any part a hole polygon covered.

    Hole polygons are traced around the hole pixels; where a hole touches the component
    only diagonally, its polygon can cover a bit of the component, which is painted again.
    """
    shapes = [_shape(label, ring, group) for ring in region_rings(mask, x0, y0)]
    holes = hole_mask(mask)
    if not holes.any():
        return shapes
    hole_rings = region_rings(holes, x0, y0)
    shapes += [_shape(BACKGROUND_LABEL, ring, group) for ring in hole_rings]
    covered = np.zeros(mask.shape, np.uint8)
    for ring in hole_rings:
        fill_truncated(covered, ring - [x0, y0], 1)
    lost = mask & (covered > 0)
    if lost.any():
        shapes += _component_shapes(lost, x0, y0, label, group)
    return shapes


def _shape(label: str, ring: np.ndarray, group: int) -> dict[str, Any]:
    points = [[round(float(x), 3), round(float(y), 3)] for x, y in ring]
    return {"label": label, "points": points, "group_id": group, "description": "",
            "shape_type": "polygon", "flags": {}, "mask": None}


def import_labelme(path: str | os.PathLike) -> ImportedLabels:
    """Read one labelme JSON file, or every ``*.json`` in a folder, into label maps.

    Class ids are given in order of first appearance of each label name (1, 2, ...);
    ``_background_`` paints 0.  A file that cannot be read is skipped with a note.

    Raises
    ------
    FormatError
        When ``path`` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{display_name(path)}: not found")
    files = [path] if path.is_file() else sorted(path.glob("*.json"))
    out = ImportedLabels()
    ids: dict[str, int] = {}
    for f in files:
        try:
            stem, canvas = _read_file(f, ids, out)
        except FormatError as exc:
            out.notes.append(f"{exc} (skipped)")
            continue
        out.masks[stem] = canvas
    out.classes = {v: k for k, v in ids.items()}
    return out


def _read_file(f: Path, ids: dict[str, int], out: ImportedLabels) -> tuple[str, np.ndarray]:
    data = load_json(f)
    try:
        h = int(number(data["imageHeight"], "imageHeight"))
        w = int(number(data["imageWidth"], "imageWidth"))
        decode.check_pixels(w, h)
        stem = stem_of(data.get("imagePath") or f.stem) or f.stem
        shapes = data["shapes"]
        if not isinstance(shapes, list):
            raise ValueError("'shapes' is not a list")
    except (TypeError, KeyError, ValueError, AttributeError, OverflowError) as exc:
        raise FormatError(f"{display_name(f)}: not a labelme file ({exc})") from None
    canvas = np.zeros((h, w), np.uint8)
    for n, shape in enumerate(shapes):
        try:
            _paint_shape(canvas, shape, ids)
        except (TypeError, KeyError, ValueError, AttributeError, OverflowError) as exc:
            out.notes.append(f"{display_name(f)}: shape #{n} skipped ({exc})")
    return stem, canvas


def _paint_shape(canvas: np.ndarray, shape: dict, ids: dict[str, int]) -> None:
    label = str(shape["label"])
    kind = shape.get("shape_type") or "polygon"
    pts = points_array(shape["points"], "points")
    if kind == "rectangle" and len(pts) == 2:
        (x0, y0), (x1, y1) = np.minimum(pts[0], pts[1]), np.maximum(pts[0], pts[1])
        ring = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    elif kind == "circle" and len(pts) == 2:
        r = float(np.hypot(*(pts[1] - pts[0])))
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        ring = pts[0] + np.stack([np.cos(t), np.sin(t)], 1) * r
    elif kind == "polygon" and len(pts) >= 3:
        ring = pts
    else:
        raise ValueError(f"shape type {str(kind)[:20]!r} with {len(pts)} points not supported")
    if label == BACKGROUND_LABEL:
        value = 0
    else:
        if label not in ids and len(ids) >= 255:
            raise ValueError("more than 255 labels")
        value = ids.setdefault(label, len(ids) + 1)
    fill_truncated(canvas, ring, value)
