"""Exchanging a project's labels with the label formats: write PNG label maps on disk in a
format (:func:`write_format`, also the ``label --format`` hook), list a project's labels
(:func:`project_labels`), open a project from a path (:func:`open_project`) and save
imported label maps into it (:func:`import_into_project`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.io.images import ImageReadError, display_name, read_image_size, read_mask
from engine.io.labels import NOT_PAINTED

from . import (
    ImportedLabels,
    Sample,
    export_labels,
)


def write_format(fmt: str, masks: Mapping[str, tuple[Path | None, Path]], classes: Any,
                 out_dir: str | os.PathLike, image_folder: str | os.PathLike | None = None,
                 on_sample: Callable[[Sample], None] | None = None) -> list[str]:
    """Convert PNG label maps already on disk to ``fmt`` under ``out_dir``.

    Parameters
    ----------
    fmt : {"png", "coco", "yolo", "labelme"}
        ``png`` copies only the maps not already at ``out_dir/<stem>.png``.
    masks : mapping
        ``stem -> (image path or None, label PNG path)``; label PNGs hold ``(H, W) uint8``
        class ids.
    classes : class list
        ``engine.io.labels.ClassInfo`` objects, project.json dicts or ``{id: name}``.
    out_dir, image_folder : path
    on_sample : callable, optional
        Called with every label map read, before it is written (progress reports; an
        exception raised there stops the export).

    Returns
    -------
    list of str
        One line per label map that could not be read (skipped).
    """
    notes: list[str] = []
    out_dir = Path(out_dir)
    items = dict(masks)
    if fmt == "png":
        items = {s: v for s, v in items.items()
                 if Path(v[1]).resolve() != (out_dir / f"{s}.png").resolve()}
    export_labels(fmt, _samples(items, notes, on_sample), classes, out_dir, image_folder)
    return notes


def _samples(items: Mapping[str, tuple[Path | None, Path]], notes: list[str],
             on_sample: Callable[[Sample], None] | None = None) -> Iterator[Sample]:
    for stem, (image, label) in items.items():
        try:
            sample = Sample(stem, _exported(Path(label)),
                            Path(image) if image is not None else None)
        except ImageReadError as exc:
            notes.append(f"{exc} (skipped)")
            continue
        if on_sample is not None:
            on_sample(sample)
        yield sample


def _exported(label: Path) -> np.ndarray:
    """A label map as exports write it: a project's own label file is read raw and its
    unpainted pixels (:data:`engine.io.labels.NOT_PAINTED`) become background."""
    own = label.parent.name == "labels" and (label.parent.parent / "project.json").is_file()
    mask = read_mask(label, raw=own)
    return np.where(mask == NOT_PAINTED, 0, mask).astype(np.uint8) if own else mask


def open_project(path: Path, read_only: bool) -> Any:
    """Open the project at ``path`` (image folder or project folder); see module docstring."""
    from engine.io.project import PROJECT_DIRNAME, Project

    path = Path(path)
    own = path / "project.json"
    if own.is_file() and not (path / PROJECT_DIRNAME).is_dir():
        try:
            folder = json.loads(own.read_bytes().decode("utf-8")).get("image_folder")
        except (OSError, ValueError, AttributeError):
            folder = None
        return Project.open(Path(folder) if folder else path.parent, path, read_only=read_only)
    return Project.open(path, read_only=read_only)


def project_labels(project: Any, include_predictions: bool) -> dict[str, tuple[Path, Path]]:
    """``stem -> (image path, label PNG)`` of the project's human labels; with
    ``include_predictions`` also the predictions of images without a human label."""
    out = {}
    for image in project.images:
        label = project.label_path(image.name)
        if not label.is_file() and include_predictions:
            label = project.prediction_path(image.name)
        if label.is_file():
            out.setdefault(image.stem, (image, label))
    return out


def import_into_project(project: Any, imported: ImportedLabels, overwrite: bool = False
                        ) -> tuple[int, list[str]]:
    """Save imported label maps as support masks of the project's images (matched by stem).

    Class names are matched to the project's classes (case-insensitive) or added; nameless
    ids (PNG import) are kept when the project has that id.  Existing human labels are kept
    unless ``overwrite``; empty maps, unknown stems and size mismatches are skipped.

    Returns
    -------
    (int, list of str)
        Number of label maps written, and one note per map skipped.
    """
    from engine.io.project import ImageState

    lut = _class_lut(project, imported.classes)
    by_stem: dict[str, Path] = {}
    for image in project.images:
        by_stem.setdefault(image.stem, image)
    written, notes = 0, []
    empty = 0
    for stem, mask in imported.masks.items():
        image = by_stem.get(stem)
        reason = _refusal(project, image, stem, mask, overwrite)
        if reason == "empty":
            empty += 1
        elif reason:
            notes.append(reason)
        else:
            project.save_label(image.name, lut[mask], ImageState.SUPPORT)
            written += 1
    if empty:
        notes.append(f"{empty} label maps without any labelled pixel were not imported")
    return written, notes


def _refusal(project: Any, image: Path | None, stem: str, mask: np.ndarray,
             overwrite: bool) -> str | None:
    if image is None:
        return f"{display_name(stem)}: no image with that name in the project folder (skipped)"
    if not mask.any():
        return "empty"
    try:
        w, h = read_image_size(image)
    except ImageReadError as exc:
        return f"{exc} (labels skipped)"
    if (h, w) != mask.shape:
        return (f"{display_name(image.name)}: labels are {mask.shape[1]}x{mask.shape[0]}, "
                f"the image is {w}x{h} (skipped)")
    if project.label_path(image.name).exists() and not overwrite:
        return (f"{display_name(image.name)}: already has a label; kept it "
                "(use --overwrite to replace)")
    return None


def _class_lut(project: Any, classes: Mapping[int, str]) -> np.ndarray:
    """Map imported class ids to project class ids, adding classes that are missing."""
    lut = np.zeros(256, np.uint8)
    by_name = {c.name.casefold(): c.id for c in project.classes}
    ids = {c.id for c in project.classes}
    for cid, name in sorted(classes.items()):
        if not name and cid in ids:
            lut[cid] = cid
            continue
        name = name or f"class {cid}"
        if name.casefold() not in by_name:
            by_name[name.casefold()] = project.add_class(name).id
        lut[cid] = by_name[name.casefold()]
    return lut
