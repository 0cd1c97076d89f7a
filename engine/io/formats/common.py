"""Types shared by the format modules: samples to export, what an import returns, errors."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.io.images import display_name

#: labelme label that paints background (0): how holes are written and read.
BACKGROUND_LABEL = "_background_"


class FormatError(ValueError):
    """An annotation file cannot be read or written; the message names the file and the reason."""


@dataclass(frozen=True)
class Sample:
    """One image to export: ``labels`` is the ``(H, W) uint8`` label map (0 = background).

    ``image_path`` is the image the labels belong to (its name goes into the
    annotation files); None when unknown, then ``<stem>.png`` is used.
    """

    stem: str
    labels: np.ndarray
    image_path: Path | None = None

    @property
    def image_name(self) -> str:
        """File name of the image, as written into COCO / labelme files."""
        return self.image_path.name if self.image_path is not None else f"{self.stem}.png"


@dataclass
class ImportedLabels:
    """What an importer found.

    ``masks`` maps an image stem to its ``(H, W) uint8`` label map; ``classes`` maps the
    ids used in those maps to class names (an empty name means "use the id as it is");
    ``notes`` holds one line per skipped file, annotation or shape.
    """

    masks: dict[str, np.ndarray] = field(default_factory=dict)
    classes: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def class_names(classes: Any) -> dict[int, str]:
    """Normalise a class list to ``{id: name}`` (ids >= 1, sorted).

    Accepts a mapping ``{id: name}``, project.json-style dicts ``{"id", "name", ...}``,
    objects with ``.id`` and ``.name`` (``engine.io.labels.ClassInfo``), or plain names
    (numbered from 1).
    """
    if isinstance(classes, Mapping):
        pairs = [(int(k), str(v)) for k, v in classes.items()]
    else:
        pairs = []
        for i, c in enumerate(classes, start=1):
            if isinstance(c, str):
                pairs.append((i, c))
            elif isinstance(c, Mapping):
                pairs.append((int(c["id"]), str(c["name"])))
            else:
                pairs.append((int(c.id), str(c.name)))
    out = dict(sorted(pairs))
    if any(k < 1 or k > 255 for k in out):
        raise ValueError(f"class ids must be in 1..255, got {sorted(out)}")
    return out


class ClassBook:
    """Class names and YOLO-style indices of an export, filled in as label maps stream by.

    Ids in the label maps without a name get ``"class <id>"`` and the next index, so
    exports never need every label map in memory at once.
    """

    def __init__(self, classes: Any) -> None:
        self.names = class_names(classes)
        self._index = {cid: i for i, cid in enumerate(self.names)}

    def index(self, cid: int) -> int:
        """0-based position of class ``cid`` (named classes in id order, then new ones)."""
        cid = int(cid)
        if cid not in self._index:
            self.names.setdefault(cid, f"class {cid}")
            self._index[cid] = len(self._index)
        return self._index[cid]

    def name(self, cid: int) -> str:
        """Name of class ``cid``."""
        self.index(cid)
        return self.names[int(cid)]

    def by_index(self) -> list[tuple[int, str]]:
        """``(id, name)`` pairs in index order."""
        return [(cid, self.names[cid]) for cid in self._index]  # insertion order = index


def load_json(path: Path) -> Any:
    """Parse a JSON file; raise :class:`FormatError` (one line) when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8-sig"))
    except FileNotFoundError:
        raise FormatError(f"{display_name(path)}: file not found") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(f"{display_name(path)}: not valid JSON ({reason})") from None


def dump_json(data: Any) -> str:
    r"""JSON text, ASCII-only so that undecodable file names survive (as ``\udcXX``)."""
    return json.dumps(data, ensure_ascii=True, indent=1, allow_nan=False)


def stem_of(name: str) -> str:
    r"""Stem of an image name or path as written in an annotation file (``/`` or ``\``)."""
    return Path(str(name).replace("\\", "/")).stem


def number(value: Any, what: str) -> float:
    """``float(value)``, finite; raise ``ValueError`` naming ``what`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{what} is not a number")
    out = float(value)
    if not np.isfinite(out):
        raise ValueError(f"{what} is not finite")
    return out


def points_array(value: Any, what: str) -> np.ndarray:
    """Return ``(N, 2) float64`` finite points from ``[[x, y], ...]`` or ``[x, y, ...]``."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and arr.size % 2 == 0:
        arr = arr.reshape(-1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.isfinite(arr).all():
        raise ValueError(f"{what} is not a list of finite x, y points")
    return arr


def relative_path(target: Path, start: Path) -> str:
    """``target`` relative to folder ``start`` with ``/`` separators, absolute when impossible."""
    try:
        return Path(os.path.relpath(target, start)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(target).resolve().as_posix()
