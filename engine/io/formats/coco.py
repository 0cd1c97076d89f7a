"""COCO instance segmentation JSON (``annotations.json``), both directions.

Export: one annotation per connected component (8-connectivity) of each class.  A
component without holes is written as a polygon (pixel-edge coordinates with a quarter-pixel
margin, see :mod:`engine.io.formats.geometry`); a component with holes as compressed RLE,
which keeps the holes exactly.  With ``segmentation="rle"`` every component is RLE.
Category ids are the project's class ids.  The file is valid for ``pycocotools``.

Import: polygons (a list of ``[x1, y1, x2, y2, ...]``, unioned), compressed RLE (string
counts) and uncompressed RLE (list counts) are painted in annotation order.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from engine.io import decode
from engine.io.images import atomic_write, display_name

from .common import (
    ClassBook,
    FormatError,
    ImportedLabels,
    Sample,
    dump_json,
    load_json,
    number,
    points_array,
    stem_of,
)
from .geometry import (
    Instance,
    fill_polygon,
    instance_rings,
    instances,
    rle_decode,
    rle_encode,
    rle_from_string,
    rle_to_string,
)

ANNOTATIONS_FILE = "annotations.json"
INFO = "exported by DistillFSS Studio"


def export_coco(samples: Iterable[Sample], classes: Any, out_dir: str | os.PathLike,
                segmentation: str = "auto") -> Path:
    """Write ``out_dir/annotations.json`` for ``samples``; return its path.

    The file is streamed: images are written as the samples come, annotations go to a temp
    file beside it and are copied in after the last image, so memory does not grow with the
    number of samples.  The text is the same as ``json.dumps(data, indent=1)`` of the whole
    document, written atomically (temp file + fsync + rename).

    Parameters
    ----------
    samples : iterable of Sample
        Label maps, ``(H, W) uint8`` each; read once, one at a time.
    classes : class list
        Anything :func:`engine.io.formats.common.class_names` accepts.
    out_dir : path
    segmentation : {"auto", "rle"}
        ``"auto"``: polygons, RLE for components with holes; ``"rle"``: RLE always.
    """
    if segmentation not in ("auto", "rle"):
        raise ValueError(f"segmentation must be 'auto' or 'rle', got {segmentation!r}")
    book = ClassBook(classes)
    path = Path(out_dir) / ANNOTATIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(f: BinaryIO) -> None:
        with tempfile.TemporaryFile(dir=path.parent, prefix=".annotations.") as spool:
            f.write(b'{\n "info": ' + _nested({"description": INFO}, 1) + b',\n "images": [')
            images, annotations = _JsonList(f), _JsonList(spool)
            for image_id, s in enumerate(samples, start=1):
                h, w = s.labels.shape
                images.add({"id": image_id, "file_name": s.image_name, "width": w,
                            "height": h})
                for inst in instances(s.labels):
                    book.index(inst.class_id)
                    ann = coco_annotation(inst, (h, w), segmentation)
                    annotations.add({"id": annotations.count + 1, "image_id": image_id, **ann})
            f.write(images.end() + b',\n "annotations": [')
            spool.seek(0)
            shutil.copyfileobj(spool, f)
            f.write(annotations.end() + b',\n "categories": [')
            categories = _JsonList(f)
            for k, v in sorted(book.names.items()):
                categories.add({"id": k, "name": v, "supercategory": ""})
            f.write(categories.end() + b"\n}")

    atomic_write(path, write)
    return path


def _nested(value: Any, depth: int) -> bytes:
    """``value`` as :func:`dump_json` writes it at nesting ``depth`` (first line unindented)."""
    return dump_json(value).replace("\n", "\n" + " " * depth).encode("ascii")


class _JsonList:
    """Items of a JSON list at depth 2, written one by one as :func:`dump_json` would."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.count = f, 0

    def add(self, item: Any) -> None:
        self.f.write((b",\n  " if self.count else b"\n  ") + _nested(item, 2))
        self.count += 1

    def end(self) -> bytes:
        """The closing bracket (on its own line unless the list is empty)."""
        return b"\n ]" if self.count else b"]"


def coco_annotation(inst: Instance, shape: tuple[int, int], segmentation: str) -> dict[str, Any]:
    outer, holes = instance_rings(inst)
    if segmentation == "rle" or holes:
        segm: Any = {"size": list(shape), "counts": rle_to_string(_full_rle(inst, shape))}
    else:
        segm = [[round(float(v), 2) for v in outer.reshape(-1)]]
    return {"category_id": inst.class_id, "segmentation": segm, "area": inst.area,
            "bbox": list(inst.bbox), "iscrowd": 0}


def _full_rle(inst: Instance, shape: tuple[int, int]) -> list[int]:
    """Image-frame COCO run lengths of a component, built from its bounding-box columns only."""
    height, width = shape
    bh, bw = inst.mask.shape
    strip = np.zeros((height, bw), bool)
    strip[inst.y0:inst.y0 + bh] = inst.mask
    runs = rle_encode(strip)
    runs[0] += inst.x0 * height  # runs[0] always counts zeros
    rest = (width - inst.x0 - bw) * height
    if len(runs) % 2 == 1:  # ends with zeros
        runs[-1] += rest
    elif rest:
        runs.append(rest)
    return runs


def import_coco(path: str | os.PathLike) -> ImportedLabels:
    """Read a COCO JSON file (or a folder holding ``annotations.json``) into label maps.

    Categories become classes numbered 1..C in category order (names kept).  Bad
    annotations and images are skipped with a note.

    Raises
    ------
    FormatError
        When the file is missing, not JSON, or has no ``images`` list.
    """
    path = Path(path)
    if path.is_dir():
        path = path / ANNOTATIONS_FILE
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise FormatError(f"{display_name(path)}: not a COCO file (no 'images' list)")
    out = ImportedLabels()
    cat_to_class = _categories(data.get("categories"), out)
    images = _images(data["images"], out)
    anns = data.get("annotations") if isinstance(data.get("annotations"), list) else []
    for i, ann in enumerate(anns):
        try:
            _paint(ann, images, cat_to_class, out)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            out.notes.append(f"{display_name(path)}: annotation #{i} skipped ({exc})")
    return out


def _categories(cats: Any, out: ImportedLabels) -> dict[int, int]:
    mapping: dict[int, int] = {}
    for c in cats if isinstance(cats, list) else []:
        try:
            cid, name = int(c["id"]), str(c["name"])
        except (TypeError, KeyError, ValueError):
            out.notes.append(f"category {c!r:.60} skipped (needs id and name)")
            continue
        if cid not in mapping and len(mapping) < 255:
            mapping[cid] = len(mapping) + 1
            out.classes[mapping[cid]] = name
    return mapping


def _images(images: list, out: ImportedLabels) -> dict[int, str]:
    by_id: dict[int, str] = {}
    for im in images:
        try:
            w, h = int(number(im["width"], "width")), int(number(im["height"], "height"))
            decode.check_pixels(w, h)
            stem = stem_of(im["file_name"])
            by_id[int(im["id"])] = stem
            out.masks.setdefault(stem, np.zeros((h, w), np.uint8))
        except (TypeError, KeyError, ValueError, OverflowError) as exc:
            out.notes.append(f"image {str(im)[:60]} skipped ({exc})")
    return by_id


def _paint(ann: Any, images: dict[int, str], cats: dict[int, int], out: ImportedLabels) -> None:
    stem = images.get(int(ann["image_id"]))
    if stem is None:
        raise ValueError(f"unknown image_id {ann['image_id']!r}")
    cid = int(ann["category_id"])
    if cid not in cats:  # not listed in "categories": give it a class of its own
        if len(cats) >= 255:
            raise ValueError(f"unknown category_id {cid}")
        cats[cid] = max(out.classes, default=0) + 1
        out.classes[cats[cid]] = f"category {cid}"
    canvas = out.masks[stem]
    segm = ann["segmentation"]
    if isinstance(segm, list):
        for poly in segm:
            fill_polygon(canvas, points_array(poly, "polygon"), cats[cid])
    elif isinstance(segm, dict):
        canvas[_decode_rle(segm, canvas.shape)] = cats[cid]
    else:
        raise ValueError("segmentation is neither polygons nor RLE")


def _decode_rle(segm: dict, shape: tuple[int, int]) -> np.ndarray:
    h, w = (int(v) for v in segm["size"])
    if (h, w) != shape:
        raise ValueError(f"RLE size {h}x{w} differs from the image's {shape[0]}x{shape[1]}")
    counts = segm["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        counts = rle_from_string(counts)
    if not isinstance(counts, list) or not all(isinstance(c, int) for c in counts):
        raise ValueError("RLE counts are neither a string nor a list of integers")
    return rle_decode(counts, h, w)
