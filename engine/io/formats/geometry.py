"""Label maps <-> instances, polygons and COCO RLE, exact to the pixel.

Coordinates
-----------
Polygons here use *pixel-edge* coordinates: pixel ``(row r, col c)`` covers
``[c, c+1) x [r, r+1)`` and its centre is ``(c + 0.5, r + 0.5)`` (the COCO and YOLO
convention).  A pixel belongs to a polygon when its centre is inside it (even-odd rule).

Exported rings keep a quarter-pixel margin: they run at ``c + 0.25`` / ``c + 0.75`` around
the pixel centres (traced on a 2x upsampled mask), so every pixel centre is strictly
inside or strictly outside.  Hence the same pixels come back from centre-sampling
rasterisers (pycocotools, :func:`fill_polygon`) and from truncate-then-fill ones
(``np.int32(points)`` + ``cv2.fillPoly``, as Ultralytics does).

Holes
-----
:func:`instance_rings` returns each component's outer ring and its hole rings (traced on the
foreground side of each inner border, like the outer ring).  Filling the outer ring and
clearing the hole rings, or filling all of them with the even-odd rule, gives back the
component exactly.  :func:`bridge_holes` joins the holes to the outer ring with
zero-width cuts into one ring, for formats with one polygon per instance (YOLO).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Instance:
    """One connected component (8-connectivity) of one class.

    ``mask`` is the ``(h, w) bool`` crop of the component whose top-left pixel is at
    column ``x0``, row ``y0`` of the image.
    """

    class_id: int
    mask: np.ndarray
    x0: int
    y0: int

    @property
    def area(self) -> int:
        """Number of pixels."""
        return int(self.mask.sum())

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """``(x, y, width, height)`` in pixels (pixel-edge coordinates)."""
        return (self.x0, self.y0, self.mask.shape[1], self.mask.shape[0])


def instances(labels: np.ndarray) -> list[Instance]:
    """Split an ``(H, W)`` integer label map into its connected components, class by class.

    Returns
    -------
    list of Instance
        Sorted by class id, then by the components' scan order.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"label map must be (H, W), got shape {labels.shape}")
    out = []
    for cid in np.unique(labels):
        if cid == 0:
            continue
        binary = (labels == cid).astype(np.uint8)
        n, comp, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        for k in range(1, n):
            x, y, w, h = (int(v) for v in stats[k, :4])
            out.append(Instance(int(cid), comp[y:y + h, x:x + w] == k, x, y))
    return out


def count_instances(labels: np.ndarray) -> int:
    """Number of connected components (8-connectivity) over all classes of an ``(H, W)``
    label map: the objects :func:`instances` returns (COCO annotations, labelme shapes)."""
    labels = np.asarray(labels)
    total = 0
    for cid in np.unique(labels):
        if cid != 0:
            total += cv2.connectedComponents((labels == cid).astype(np.uint8),
                                             connectivity=8)[0] - 1
    return total


def _trace(mask: np.ndarray, x0: int, y0: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Outer and hole rings of ``mask`` as ``(N, 2) float64`` edge coordinates.

    Both are traced on the foreground side of the border (8-connected foreground,
    4-connected background), so a piece of the component that reaches into a hole
    through a diagonal step stays outside the hole ring.
    """
    padded = np.pad(mask.astype(np.uint8), 1)
    up = np.repeat(np.repeat(padded, 2, axis=0), 2, axis=1)
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    offset = np.array([x0 - 1, y0 - 1], np.float64)
    rings = [c.reshape(-1, 2).astype(np.float64) / 2.0 + 0.25 + offset for c in contours]
    parents = hierarchy.reshape(-1, 4)[:, 3] if hierarchy is not None else []
    outer = [r for r, p in zip(rings, parents) if p < 0]
    holes = [r for r, p in zip(rings, parents) if p >= 0]
    return outer, holes


def hole_mask(mask: np.ndarray) -> np.ndarray:
    """Background pixels of ``mask`` not 4-connected to its border: ``(h, w) bool``."""
    background = np.pad(~mask.astype(bool), 1, constant_values=True).astype(np.uint8)
    _, comp = cv2.connectedComponents(background, connectivity=4)
    return ((comp != comp[0, 0]) & (comp != 0))[1:-1, 1:-1]


def region_rings(mask: np.ndarray, x0: int = 0, y0: int = 0) -> list[np.ndarray]:
    """Outer rings of the 8-connected regions of an ``(h, w) bool`` mask at ``(x0, y0)``.

    Traced on the region's own pixels, so a truncate-then-fill-inclusive rasteriser
    (labelme's PIL polygons, ``cv2.fillPoly`` on ``int32`` points) gives those pixels back.
    """
    return _trace(mask, x0, y0)[0]


def instance_rings(inst: Instance) -> tuple[np.ndarray, list[np.ndarray]]:
    """Outer ring and hole rings of one component (edge coordinates, ``(N, 2) float64``)."""
    outer, holes = _trace(inst.mask, inst.x0, inst.y0)
    if len(outer) != 1:  # cannot happen for one 8-connected component; keep the largest
        outer.sort(key=lambda r: -abs(_signed_area(r)))
    return outer[0], holes


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def bridge_holes(outer: np.ndarray, holes: list[np.ndarray]) -> np.ndarray:
    """Join hole rings to ``outer`` with zero-width cuts; one ring, same even-odd fill.

    Each hole is entered from its vertex nearest to the ring built so far and left the
    same way back, so the two cut edges coincide and cancel under the even-odd rule.
    """
    ring = np.asarray(outer, np.float64)
    for hole in holes:
        i, j = _nearest_pair(ring, hole)
        ring = np.concatenate([ring[: i + 1], hole[j:], hole[: j + 1], ring[i:]])
    return ring


def _nearest_pair(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    step = max(1, len(b) // 64)  # a few candidate hole vertices keep this O(len(a))
    cand = np.arange(0, len(b), step)
    d2 = ((a[:, None, :] - b[None, cand, :]) ** 2).sum(-1)
    i, k = np.unravel_index(int(np.argmin(d2)), d2.shape)
    return int(i), int(cand[k])


def fill_polygon(canvas: np.ndarray, points: np.ndarray, value: int) -> None:
    """Set ``canvas`` pixels whose centre is inside the polygon (even-odd) to ``value``.

    Parameters
    ----------
    canvas : numpy.ndarray
        ``(H, W)`` array, modified in place.
    points : numpy.ndarray
        ``(N, 2)`` x, y vertices in pixel-edge coordinates; the ring is closed implicitly.
        Vertices may lie outside the canvas; NaN or infinite vertices raise ``ValueError``.
    value : int
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return
    if not np.isfinite(pts).all():
        raise ValueError("polygon has NaN or infinite coordinates")
    h, w = canvas.shape[:2]
    rows, xs = _crossings(pts, h)
    if rows.size == 0:
        return
    order = np.lexsort((xs, rows))
    rows, xs = rows[order].reshape(-1, 2)[:, 0], xs[order].reshape(-1, 2)
    start = np.clip(np.ceil(xs[:, 0] - 0.5), 0, w).astype(np.int64)
    stop = np.clip(np.ceil(xs[:, 1] - 0.5), 0, w).astype(np.int64)
    keep = stop > start
    rows, start, stop = rows[keep], start[keep], stop[keep]
    if rows.size == 0:
        return
    r0, r1 = int(rows.min()), int(rows.max()) + 1
    diff = np.zeros((r1 - r0, w + 1), np.int32)
    np.add.at(diff, (rows - r0, start), 1)
    np.add.at(diff, (rows - r0, stop), -1)
    canvas[r0:r1][np.cumsum(diff, axis=1)[:, :w] > 0] = value


def fill_truncated(canvas: np.ndarray, points: np.ndarray, value: int) -> None:
    """Fill like labelme (PIL) and Ultralytics do: truncate vertices to ints, fill inclusively.

    ``canvas`` is ``(H, W)``, modified in place; ``points`` is ``(N, 2)`` x, y.  Vertices
    far outside the canvas are clamped (that changes nothing inside it for convex parts).
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return
    if not np.isfinite(pts).all():
        raise ValueError("polygon has NaN or infinite coordinates")
    limit = 4 * max(canvas.shape) + 16
    ints = np.floor(np.clip(pts, -limit, limit)).astype(np.int32)
    cv2.fillPoly(canvas, [ints], int(value))


def _crossings(pts: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and x positions where the polygon edges cross pixel-centre scanlines."""
    p0, p1 = pts, np.roll(pts, -1, axis=0)
    sloped = p0[:, 1] != p1[:, 1]
    p0, p1 = p0[sloped], p1[sloped]
    ylo, yhi = np.minimum(p0[:, 1], p1[:, 1]), np.maximum(p0[:, 1], p1[:, 1])
    first = np.clip(np.ceil(ylo - 0.5), 0, height).astype(np.int64)
    last = np.clip(np.ceil(yhi - 0.5), 0, height).astype(np.int64)  # exclusive
    counts = np.maximum(last - first, 0)
    edge = np.repeat(np.arange(len(p0)), counts)
    rows = np.repeat(first, counts) + (np.arange(counts.sum()) - np.repeat(
        np.cumsum(counts) - counts, counts))
    t = (rows + 0.5 - p0[edge, 1]) / (p1[edge, 1] - p0[edge, 1])
    xs = p0[edge, 0] + t * (p1[edge, 0] - p0[edge, 0])
    return rows, xs


def rle_encode(mask: np.ndarray) -> list[int]:
    """COCO run lengths of an ``(H, W)`` bool mask (column-major, starting with zeros)."""
    flat = np.asarray(mask, bool).T.reshape(-1)
    if flat.size == 0:
        return []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    return [0] + runs if flat[0] else runs


def rle_decode(counts: list[int], height: int, width: int) -> np.ndarray:
    """Inverse of :func:`rle_encode`: ``(height, width) bool``; raises ValueError if invalid."""
    counts = np.asarray(counts, np.int64)
    if counts.ndim != 1 or (counts < 0).any() or int(counts.sum()) != height * width:
        raise ValueError(f"RLE counts do not add up to {height}x{width} pixels")
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, counts).reshape(width, height).T


def rle_to_string(counts: list[int]) -> str:
    """Compress run lengths to the COCO string form (as pycocotools ``rleToString``)."""
    out = []
    for i, x in enumerate(counts):
        x = int(x) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr(c + 48 + (0x20 if more else 0)))
    return "".join(out)


def rle_from_string(s: str) -> list[int]:
    """Decompress a COCO RLE string to run lengths; raises ValueError on bad input."""
    counts: list[int] = []
    p = 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            if p >= len(s) or k > 12:
                raise ValueError("malformed RLE string")
            c = ord(s[p]) - 48
            if not 0 <= c < 64:
                raise ValueError("malformed RLE string")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        counts.append(x + (counts[-2] if len(counts) > 2 else 0))
    return counts
