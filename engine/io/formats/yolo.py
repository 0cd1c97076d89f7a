"""YOLO segmentation labels (Ultralytics layout), both directions.

Export writes ``OUT/labels/<stem>.txt`` (one line per connected component:
``<class index> x1 y1 x2 y2 ...`` normalised to 0..1 by the image width and height,
class index = position of the class in id order) and ``OUT/data.yaml`` (``nc``, ``names``,
and ``train``/``val`` pointing at the image folder when it is known).  An image without
objects gets an empty file, as YOLO expects for background images.

Holes: YOLO has one polygon per instance, so each hole is joined to the outer ring by a
zero-width cut (the same idea as Ultralytics' ``merge_multi_segment``).  Filled with the
even-odd rule (our importer) the holes come back exactly; tools that fill with the
non-zero rule may fill them in, and tools that draw the outline as well (``cv2.fillPoly``)
may add the one-pixel cut line.

Import reads detection lines (``class cx cy w h``) as rectangles too.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from engine.io.images import (
    ImageReadError,
    display_name,
    list_images,
    read_image_size,
    write_text_atomic,
)

from .common import ClassBook, FormatError, ImportedLabels, Sample
from .geometry import bridge_holes, fill_polygon, instance_rings, instances

DATA_YAML = "data.yaml"


def export_yolo(samples: Iterable[Sample], classes: Any, out_dir: str | os.PathLike,
                image_folder: str | os.PathLike | None = None) -> Path:
    """Write ``out_dir/labels/<stem>.txt`` per sample and ``out_dir/data.yaml``; return the yaml.

    Parameters
    ----------
    samples : iterable of Sample
        Label maps, ``(H, W) uint8`` each.
    classes : class list
        Anything :func:`engine.io.formats.common.class_names` accepts.
    out_dir : path
    image_folder : path, optional
        Written as ``train`` and ``val`` in ``data.yaml``.
    """
    out_dir = Path(out_dir)
    book = ClassBook(classes)
    for s in samples:
        h, w = s.labels.shape
        lines = []
        for inst in instances(s.labels):
            ring = bridge_holes(*instance_rings(inst)) / np.array([w, h], np.float64)
            coords = " ".join(f"{v:.6f}" for v in ring.reshape(-1))
            lines.append(f"{book.index(inst.class_id)} {coords}")
        write_text_atomic(out_dir / "labels" / f"{s.stem}.txt", "".join(x + "\n" for x in lines))
    write_text_atomic(out_dir / DATA_YAML, _data_yaml(out_dir, [n for _, n in book.by_index()],
                                                      image_folder))
    return out_dir / DATA_YAML


def _data_yaml(out_dir: Path, names: list[str], image_folder: Any) -> str:
    q = json.dumps  # a JSON string is a valid YAML double-quoted scalar
    lines = ["# YOLO segmentation labels written by DistillFSS Studio",
             f"path: {q(str(out_dir.resolve()))}"]
    if image_folder is not None:
        folder = q(str(Path(image_folder).resolve()))
        lines += [f"train: {folder}", f"val: {folder}"]
    lines += [f"nc: {len(names)}", "names:"] + [f"  {i}: {q(n)}" for i, n in enumerate(names)]
    return "\n".join(lines) + "\n"


def parse_names(text: str) -> list[str]:
    """Class names from a YOLO ``data.yaml`` (``names:`` as a flow list, a block list or a map).

    A small reader for the forms Ultralytics writes; no YAML library needed.
    """
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^names\s*:\s*(.*)$", line)
        if not m:
            continue
        rest = m.group(1).split(" #")[0].strip()
        if rest.startswith("["):
            items = rest.strip("[]").split(",")
            return [_scalar(x) for x in items if x.strip()]
        block: dict[int, str] = {}
        for sub in lines[i + 1:]:
            if sub.strip() and not sub.startswith((" ", "\t", "-")):
                break
            km = re.match(r"^\s*(?:-\s*(.*)|(\d+)\s*:\s*(.*))$", sub)
            if km and km.group(1) is not None:
                block[len(block)] = _scalar(km.group(1))
            elif km:
                block[int(km.group(2))] = _scalar(km.group(3))
        return [block[k] for k in sorted(block)]
    return []


def _scalar(text: str) -> str:
    text = text.strip()
    if text.startswith('"'):
        try:
            return str(json.loads(text))
        except ValueError:
            return text.strip('"')
    return text.strip("'")


def import_yolo(path: str | os.PathLike, image_folder: str | os.PathLike | None = None,
                image_size: Callable[[str], tuple[int, int] | None] | None = None
                ) -> ImportedLabels:
    """Read YOLO label files into label maps.

    Parameters
    ----------
    path : path
        A dataset folder (``data.yaml`` + ``labels/``), a ``labels`` folder, or a ``.txt``.
    image_folder : path, optional
        Where to find the images: their sizes turn normalised coordinates into pixels.
        ``<dataset>/images`` is searched as well.
    image_size : callable, optional
        ``stem -> (width, height)`` or None; used before searching folders.

    Returns
    -------
    ImportedLabels
        Class ``i`` of the file becomes class id ``i + 1``, named from ``data.yaml``.
    """
    path = Path(path)
    root = path.parent if path.is_file() else path
    if not root.exists():
        raise FormatError(f"{display_name(path)}: not found")
    files = [path] if path.is_file() else sorted(
        (root / "labels" if (root / "labels").is_dir() else root).rglob("*.txt"))
    names = _names_near(root)
    sizes = _size_finder(root, image_folder, image_size)
    out = ImportedLabels(classes={i + 1: n for i, n in enumerate(names[:255])})
    for f in files:
        size = sizes(f.stem)
        if size is None:
            out.notes.append(f"{display_name(f)}: skipped (no image named {display_name(f.stem)}"
                             " found to give its size)")
            continue
        _read_txt(f, size, out)
    return out


def _names_near(root: Path) -> list[str]:
    for cand in [root / DATA_YAML, *sorted(root.glob("*.yaml")), root.parent / DATA_YAML]:
        try:
            return parse_names(cand.read_text("utf-8", errors="replace"))
        except OSError:
            continue
    return []


def _size_finder(root: Path, image_folder: Any, image_size: Any
                 ) -> Callable[[str], tuple[int, int] | None]:
    found: dict[str, Path] = {}
    folders = [Path(image_folder)] if image_folder is not None else []
    for images in (root / "images", root.parent / "images"):  # Ultralytics: images/<split>/
        if images.is_dir():
            folders += [images] + _visible_subdirs(images)
    for folder in folders:
        try:
            for p in list_images(folder):
                found.setdefault(p.stem, p)
        except OSError:
            continue

    def size(stem: str) -> tuple[int, int] | None:
        if image_size is not None and (got := image_size(stem)) is not None:
            return got
        if stem not in found:
            return None
        try:
            return read_image_size(found[stem])
        except ImageReadError:
            return None
    return size


def _visible_subdirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.rglob("*") if d.is_dir()
                  and not any(p.startswith(".") for p in d.relative_to(folder).parts))


def _read_txt(f: Path, size: tuple[int, int], out: ImportedLabels) -> None:
    w, h = size
    canvas = out.masks.setdefault(f.stem, np.zeros((h, w), np.uint8))
    try:
        text = f.read_text("utf-8", errors="replace")
    except OSError as exc:
        out.notes.append(f"{display_name(f)}: skipped ({exc.strerror or exc})")
        return
    for n, line in enumerate(text.splitlines(), start=1):
        try:
            cls, ring = _parse_line(line)
            if cls is not None:
                with np.errstate(over="ignore", invalid="ignore"):  # inf is refused below
                    ring = ring * np.array([w, h], np.float64)
                fill_polygon(canvas, ring, cls + 1)
                out.classes.setdefault(cls + 1, f"class {cls}")
        except (ValueError, OverflowError) as exc:
            out.notes.append(f"{display_name(f)}:{n}: line skipped ({exc})")


def _parse_line(line: str) -> tuple[int | None, np.ndarray]:
    parts = line.split()
    if not parts:
        return None, np.zeros((0, 2))
    cls = int(parts[0])
    if not 0 <= cls < 255:
        raise ValueError(f"class index {cls} out of range")
    values = np.array([float(v) for v in parts[1:]], np.float64)
    if not np.isfinite(values).all():
        raise ValueError("coordinate is not finite")
    if values.size == 4:  # detection box: cx cy w h
        cx, cy, bw, bh = values
        return cls, np.array([[cx - bw / 2, cy - bh / 2], [cx + bw / 2, cy - bh / 2],
                              [cx + bw / 2, cy + bh / 2], [cx - bw / 2, cy + bh / 2]])
    if values.size < 6 or values.size % 2:
        raise ValueError(f"expected a box or a polygon, got {values.size} numbers")
    return cls, values.reshape(-1, 2)
