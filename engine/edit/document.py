"""A label map that can be painted, filled and undone, without any GUI toolkit.

:class:`MaskDocument` holds one ``(H, W) uint8`` array of class indices
(0 = background, 255 = not painted: see :mod:`engine.io.labels`) and the operations a
person performs on it with a brush: paint a disc or a line of discs, erase, flood fill,
fill a polygon, paint a mask a selection tool computed.  Every
operation between :meth:`MaskDocument.begin_stroke` and
:meth:`MaskDocument.end_stroke` forms **one** undo step; an operation called
outside a stroke is a step of its own.

Undo memory stays small on large images: only the 256 x 256 tiles a stroke
touched are stored (before and after), never a copy of the whole map.

Listeners registered with :meth:`MaskDocument.add_listener` are called with the
changed region ``(y0, y1, x0, x1)`` (half-open, pixels) after every change, so
a view can repaint only that region.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from engine.io.labels import NOT_PAINTED

TILE = 256
Region = tuple[int, int, int, int]  # y0, y1, x0, x1 (half-open)
Listener = Callable[[Region], None]


@dataclass
class _Step:
    """One undo step: the tiles a stroke touched, before and after."""

    before: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    after: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)


class MaskDocument:
    """An editable ``(H, W) uint8`` label map with per-stroke undo/redo.

    Parameters
    ----------
    labels
        Initial label map, ``(H, W)`` uint8 class indices; copied.
    max_undo
        Number of undo steps kept; the oldest are dropped first.
    """

    def __init__(self, labels: np.ndarray, max_undo: int = 100) -> None:
        arr = np.asarray(labels)
        if arr.ndim != 2:
            raise ValueError(f"labels must be (H, W), got shape {arr.shape}")
        self._labels = np.ascontiguousarray(arr, dtype=np.uint8).copy()
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._stroke: _Step | None = None
        self._stroke_depth = 0
        self._max_undo = max(1, int(max_undo))
        self._listeners: list[Listener] = []
        self.revision = 0  # increases on every change, undo and redo included

    @classmethod
    def empty(cls, shape: tuple[int, int], max_undo: int = 100) -> MaskDocument:
        """Return a document of all background with ``shape = (H, W)``."""
        return cls(np.zeros(shape, np.uint8), max_undo=max_undo)

    @classmethod
    def unpainted(cls, shape: tuple[int, int], max_undo: int = 100) -> MaskDocument:
        """Return a document where nothing is painted yet (all ``NOT_PAINTED``)."""
        return cls(np.full(shape, NOT_PAINTED, np.uint8), max_undo=max_undo)

    # -- reading ---------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray:
        """The label map, ``(H, W)`` uint8; read-only view (use the methods to edit)."""
        view = self._labels.view()
        view.flags.writeable = False
        return view

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` in pixels."""
        return self._labels.shape[0], self._labels.shape[1]

    @property
    def can_undo(self) -> bool:
        """Whether :meth:`undo` would change anything."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether :meth:`redo` would change anything."""
        return bool(self._redo)

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(region)`` after each change; ``region = (y0, y1, x0, x1)``."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        """Stop calling ``fn``; unknown listeners are ignored."""
        if fn in self._listeners:
            self._listeners.remove(fn)

    # -- strokes -----------------------------------------------------------------
    def begin_stroke(self) -> None:
        """Start grouping changes into one undo step (nested calls are counted)."""
        if self._stroke_depth == 0:
            self._stroke = _Step()
        self._stroke_depth += 1

    def end_stroke(self) -> bool:
        """Close the current stroke; return True when it changed the map."""
        if self._stroke_depth == 0:
            return False
        self._stroke_depth -= 1
        if self._stroke_depth > 0:
            return False
        step, self._stroke = self._stroke, None
        if step is None or not step.before:
            return False
        for key in step.before:
            step.after[key] = self._tile_view(key).copy()
        # Drop tiles a stroke touched without changing them (e.g. painting the same label).
        for key in [k for k in step.before if np.array_equal(step.before[k], step.after[k])]:
            del step.before[key], step.after[key]
        if not step.before:
            return False
        self._undo.append(step)
        del self._undo[: max(0, len(self._undo) - self._max_undo)]
        self._redo.clear()
        return True

    @property
    def in_stroke(self) -> bool:
        """True between :meth:`begin_stroke` and the matching :meth:`end_stroke`."""
        return self._stroke_depth > 0

    # -- editing ----------------------------------------------------------------
    def paint(self, center: tuple[float, float], radius: float, label: int) -> Region | None:
        """Paint a disc of ``label`` at ``center = (x, y)`` (pixels) with ``radius`` (pixels).

        Returns the changed region or None when the disc lies outside the map.
        """
        return self.paint_line(center, center, radius, label)

    def erase(self, center: tuple[float, float], radius: float) -> Region | None:
        """Set a disc back to background (0); see :meth:`paint`."""
        return self.paint_line(center, center, radius, 0)

    def paint_line(self, start: tuple[float, float], end: tuple[float, float],
                   radius: float, label: int) -> Region | None:
        """Paint a thick line of ``label`` (round caps) from ``start`` to ``end`` (x, y)."""
        label = _check_label(label)
        found = line_footprint(self.shape, start, end, radius)
        if found is None:
            return None
        return self._apply(found[0], found[1], label)

    def paint_mask(self, region: Region, mask: np.ndarray, label: int) -> Region | None:
        """Set the pixels of ``mask`` (bool, ``(y1 - y0, x1 - x0)``) over ``region = (y0, y1,
        x0, x1)`` to ``label`` (e.g. a selection from :mod:`engine.edit.selection`)."""
        label = _check_label(label)
        y0, y1, x0, x1 = (int(v) for v in region)
        h, w = self.shape
        if not (0 <= y0 <= y1 <= h and 0 <= x0 <= x1 <= w):
            raise ValueError(f"region {region} lies outside the document {self.shape}")
        mask = np.asarray(mask, bool)
        if mask.shape != (y1 - y0, x1 - x0):
            raise ValueError(f"mask shape {mask.shape} does not match the region {region}")
        if not mask.any():
            return None
        return self._apply((y0, y1, x0, x1), mask, label)

    def fill_polygon(self, points: Sequence[tuple[float, float]], label: int) -> Region | None:
        """Fill the polygon with vertices ``points = [(x, y), ...]`` (at least 3) with ``label``."""
        label = _check_label(label)
        if len(points) < 3:
            return None
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        region = self._clip((pts[:, 1].min(), pts[:, 1].max() + 1,
                             pts[:, 0].min(), pts[:, 0].max() + 1))
        if region is None:
            return None
        y0, y1, x0, x1 = region
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        local = np.round(pts - [x0, y0]).astype(np.int32)
        cv2.fillPoly(mask, [local], 1)
        return self._apply(region, mask.astype(bool), label)

    def flood_fill(self, point: tuple[float, float], label: int) -> Region | None:
        """Fill the 4-connected area of equal label containing ``point = (x, y)`` with ``label``
        (pixel centres on integers, as for painting: the nearest pixel)."""
        label = _check_label(label)
        x, y = round(point[0]), round(point[1])
        h, w = self.shape
        if not (0 <= x < w and 0 <= y < h) or self._labels[y, x] == label:
            return None
        ff = np.zeros((h + 2, w + 2), np.uint8)
        # MASK_ONLY: the labels are read, not changed; the returned rectangle bounds the area
        _, _, _, (rx, ry, rw, rh) = cv2.floodFill(self._labels, ff, (x, y), 255,
                                                  flags=4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8))
        region = (ry, ry + rh, rx, rx + rw)
        return self._apply(region, ff[1 + ry:1 + ry + rh, 1 + rx:1 + rx + rw].view(bool), label)

    def replace(self, labels: np.ndarray) -> Region | None:
        """Replace the whole map (e.g. accepting a prediction) as one undoable step."""
        arr = np.asarray(labels, dtype=np.uint8)
        if arr.shape != self._labels.shape:
            raise ValueError(f"shape {arr.shape} does not match the document {self.shape}")
        region = (0, self.shape[0], 0, self.shape[1])
        return self._apply(region, np.ones(arr.shape, bool), arr)

    # -- undo ----------------------------------------------------------------------
    def undo(self) -> Region | None:
        """Revert the last stroke; return the changed region or None when nothing to undo."""
        if self.in_stroke or not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        return self._restore(step.before)

    def redo(self) -> Region | None:
        """Re-apply the last undone stroke; return the changed region or None."""
        if self.in_stroke or not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(step)
        return self._restore(step.after)

    def clear_history(self) -> None:
        """Forget all undo and redo steps (e.g. after loading another image)."""
        self._undo.clear()
        self._redo.clear()

    # -- internals ----------------------------------------------------------------------
    def _clip(self, box: tuple[float, float, float, float]) -> Region | None:
        h, w = self.shape
        y0, y1 = max(0, int(np.floor(box[0]))), min(h, int(np.ceil(box[1])))
        x0, x1 = max(0, int(np.floor(box[2]))), min(w, int(np.ceil(box[3])))
        if y0 >= y1 or x0 >= x1:
            return None
        return y0, y1, x0, x1

    def _tile_view(self, key: tuple[int, int]) -> np.ndarray:
        ty, tx = key
        return self._labels[ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE]

    def _apply(self, region: Region, mask: np.ndarray, value: int | np.ndarray) -> Region | None:
        y0, y1, x0, x1 = region
        patch = self._labels[y0:y1, x0:x1]
        new = value[mask] if isinstance(value, np.ndarray) else value
        if not (mask & (patch != value)).any():
            return None
        own_stroke = not self.in_stroke
        if own_stroke:
            self.begin_stroke()
        self._remember_tiles(region)
        patch[mask] = new
        if own_stroke:
            self.end_stroke()
        self._changed(region)
        return region

    def _remember_tiles(self, region: Region) -> None:
        if self._stroke is None:
            raise RuntimeError("internal: tiles remembered outside a stroke")
        y0, y1, x0, x1 = region
        for ty in range(y0 // TILE, (y1 - 1) // TILE + 1):
            for tx in range(x0 // TILE, (x1 - 1) // TILE + 1):
                if (ty, tx) not in self._stroke.before:
                    self._stroke.before[(ty, tx)] = self._tile_view((ty, tx)).copy()

    def _restore(self, tiles: dict[tuple[int, int], np.ndarray]) -> Region:
        ys0, ys1, xs0, xs1 = [], [], [], []
        for key, data in tiles.items():
            view = self._tile_view(key)
            view[...] = data
            ys0.append(key[0] * TILE)
            ys1.append(key[0] * TILE + view.shape[0])
            xs0.append(key[1] * TILE)
            xs1.append(key[1] * TILE + view.shape[1])
        region = (min(ys0), max(ys1), min(xs0), max(xs1))
        self._changed(region)
        return region

    def _changed(self, region: Region) -> None:
        self.revision += 1
        for fn in list(self._listeners):
            fn(region)


def line_footprint(shape: tuple[int, int], start: tuple[float, float],
                   end: tuple[float, float], radius: float) -> tuple[Region, np.ndarray] | None:
    """The pixels a brush of ``radius`` covers along the line ``start`` -> ``end`` (x, y).

    Returns ``(region, mask)``: the region ``(y0, y1, x0, x1)`` clipped to ``shape = (H, W)``
    and a bool mask over it; None when the line lies outside.
    """
    r = max(0.5, float(radius))
    (x0, y0), (x1, y1) = start, end
    h, w = shape
    ry0, ry1 = max(0, int(np.floor(min(y0, y1) - r))), min(h, int(np.ceil(max(y0, y1) + r + 1)))
    rx0, rx1 = max(0, int(np.floor(min(x0, x1) - r))), min(w, int(np.ceil(max(x0, x1) + r + 1)))
    if ry0 >= ry1 or rx0 >= rx1:
        return None
    mask = np.zeros((ry1 - ry0, rx1 - rx0), np.uint8)
    p0 = (round(x0) - rx0, round(y0) - ry0)
    p1 = (round(x1) - rx0, round(y1) - ry0)
    thickness = max(1, round(2 * r))
    if thickness <= 1:
        cv2.line(mask, p0, p1, 1, 1)
    else:
        cv2.line(mask, p0, p1, 1, thickness, lineType=cv2.LINE_8)
        cv2.circle(mask, p0, round(r), 1, -1)
        cv2.circle(mask, p1, round(r), 1, -1)
    return (ry0, ry1, rx0, rx1), mask.astype(bool)


def _check_label(label: int) -> int:
    value = int(label)
    if not 0 <= value <= 255:
        raise ValueError(f"label must be in 0..255, got {label}")
    return value
