"""Smart selections: a box, a magic wand, superpixels, a predicted component (Qt-free).

Each function turns one gesture into a boolean mask over a rectangle of the image,
returned as ``(region, mask)`` with ``region = (y0, y1, x0, x1)`` (half-open, pixels, as
in :mod:`engine.edit.document`) and ``mask`` a ``(y1 - y0, x1 - x0)`` bool array; the caller
paints it with :meth:`engine.edit.document.MaskDocument.paint_mask`.  Images are ``(H, W, 3)``
uint8 RGB; points are ``(x, y)`` in pixels with pixel centres on integers.

Only numpy, OpenCV and scikit-image: the GUI runs the slow ones (:func:`grabcut_box`,
:func:`slic_segments`) in a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from engine.io.labels import BACKGROUND, NOT_PAINTED

from .document import Region, line_footprint

Selection = tuple[Region, np.ndarray]

GRABCUT_SIDE = 360        # the box (with its margin) is reduced to this longer side
SUPERPIXEL_SIDE = 1024    # superpixels are computed on an image reduced to this side


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _writable(arr: np.ndarray) -> np.ndarray:
    """OpenCV's floodFill takes the image as an output even with ``FLOODFILL_MASK_ONLY``:
    a read-only array (e.g. one ``np.asarray`` made from a PIL image) is copied."""
    return arr if arr.flags.writeable else arr.copy()


def _pixel(point: tuple[float, float], shape: tuple[int, ...]) -> tuple[int, int] | None:
    x, y = round(point[0]), round(point[1])
    if 0 <= x < shape[1] and 0 <= y < shape[0]:
        return x, y
    return None


# -- box: GrabCut ------------------------------------------------------------------------
def grabcut_box(rgb: np.ndarray, box: tuple[float, float, float, float], *,
                hints: np.ndarray | None = None, label: int = 1, iterations: int = 4,
                work_side: int = GRABCUT_SIDE) -> Selection | None:
    """The object inside ``box = (x0, y0, x1, y1)`` (pixels, half-open), by GrabCut.

    The box and a margin around it (whose pixels teach GrabCut the background) are cut
    out and reduced so their longer side is at most ``work_side`` pixels, so the time
    does not grow with the image or box size; the result is scaled back up smoothly.

    ``hints``: the image's ``(H, W)`` uint8 label map.  Where it holds unpainted pixels
    around the box (scribbles, :mod:`engine.io.labels`), its painted pixels are kept: ``label``
    pixels are sure object, background and other classes sure background.  A completely
    painted map (e.g. a prediction) gives no hints.

    Returns
    -------
    ((y0, y1, x0, x1), mask) or None
        ``mask`` covers the box (clipped to the image); None when the box is empty or
        thinner than 2 pixels, or GrabCut finds no colour model.
    """
    img = _check_rgb(rgb)
    h, w = img.shape[:2]
    bx0, bx1 = sorted((max(0, min(w, round(box[0]))), max(0, min(w, round(box[2])))))
    by0, by1 = sorted((max(0, min(h, round(box[1]))), max(0, min(h, round(box[3])))))
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    margin = max(8, round(0.15 * max(bx1 - bx0, by1 - by0)))
    cx0, cy0 = max(0, bx0 - margin), max(0, by0 - margin)
    cx1, cy1 = min(w, bx1 + margin), min(h, by1 + margin)
    crop = img[cy0:cy1, cx0:cx1]
    ch, cw = crop.shape[:2]
    scale = min(1.0, work_side / max(ch, cw))
    size = (max(2, round(cw * scale)), max(2, round(ch * scale)))
    small = crop if scale == 1.0 else cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    rect = (round((bx0 - cx0) * sw / cw), round((by0 - cy0) * sh / ch),
            round((bx1 - cx0) * sw / cw), round((by1 - cy0) * sh / ch))
    gc = _initial_mask((sh, sw), rect)
    if hints is not None:
        _apply_hints(gc, np.asarray(hints)[cy0:cy1, cx0:cx1], label)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(small, gc, None, bgd, fgd, int(iterations), cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # e.g. a flat box where no colour model can be fitted
        return None
    fg = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.float32)
    if scale != 1.0:
        fg = cv2.resize(fg, (cw, ch), interpolation=cv2.INTER_LINEAR)
    mask = fg[by0 - cy0:by1 - cy0, bx0 - cx0:bx1 - cx0] > 0.5
    return (by0, by1, bx0, bx1), mask


def _initial_mask(shape: tuple[int, int], rect: tuple[int, int, int, int]) -> np.ndarray:
    """GrabCut's start: probably object inside ``rect = (x0, y0, x1, y1)``, background
    outside; a rect covering everything keeps a thin rim as background."""
    sh, sw = shape
    x0, y0, x1, y1 = rect
    if (x0, y0, x1, y1) == (0, 0, sw, sh):
        inset = max(1, round(0.02 * max(sw, sh)))
        x0, y0, x1, y1 = inset, inset, sw - inset, sh - inset
    gc = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    gc[y0:max(y0 + 1, y1), x0:max(x0 + 1, x1)] = cv2.GC_PR_FGD
    return gc


def _apply_hints(gc: np.ndarray, labels: np.ndarray, label: int) -> None:
    """Mark painted scribbles in GrabCut's mask (in place); see :func:`grabcut_box`."""
    if not (labels == NOT_PAINTED).any():
        return  # a complete map (a prediction, an old mask): its background is not a hint
    small = cv2.resize(labels, (gc.shape[1], gc.shape[0]), interpolation=cv2.INTER_NEAREST)
    gc[(small != NOT_PAINTED) & (small != label)] = cv2.GC_BGD
    gc[small == label] = cv2.GC_FGD


# -- wand: flood fill by colour ------------------------------------------------------------
def wand_image(rgb: np.ndarray) -> np.ndarray:
    """The image the wand compares colours on: a 5 x 5 median filter of ``rgb``.

    Noise and JPEG speckle would otherwise leave the selection full of single-pixel holes;
    a median keeps edges where they are.  Compute it once per image and pass it to
    :func:`wand_region` for every click.
    """
    return cv2.medianBlur(_check_rgb(rgb), 5)


def wand_region(rgb: np.ndarray, point: tuple[float, float], tolerance: int) -> Selection | None:
    """The 8-connected region around ``point`` whose colour is within ``tolerance`` of it.

    A pixel belongs when each of its R, G, B values differs from the clicked pixel's by
    at most ``tolerance`` (0..255) and it touches the region.  None outside the image.
    For photographs pass :func:`wand_image` of the image rather than the image itself.
    """
    img = _check_rgb(rgb)
    seed = _pixel(point, img.shape)
    if seed is None:
        return None
    img = _writable(img)
    tol = int(np.clip(tolerance, 0, 255))
    ff = np.zeros((img.shape[0] + 2, img.shape[1] + 2), np.uint8)
    flags = 8 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    _, _, _, (x, y, rw, rh) = cv2.floodFill(img, ff, seed, 0, (tol,) * 3, (tol,) * 3, flags)
    mask = ff[1 + y:1 + y + rh, 1 + x:1 + x + rw].astype(bool)
    return (y, y + rh, x, x + rw), mask


# -- take prediction: one connected component ---------------------------------------------------
def prediction_component(prediction: np.ndarray,
                         point: tuple[float, float]) -> tuple[Region, np.ndarray, int] | None:
    """The 8-connected component of the predicted class under ``point``.

    ``prediction`` is an ``(H, W)`` uint8 label map (0 = background).  Returns
    ``(region, mask, class id)``, or None when the point is outside, on background or on an
    unpainted pixel.
    """
    pred = _writable(np.ascontiguousarray(prediction, dtype=np.uint8))
    seed = _pixel(point, pred.shape)
    if seed is None:
        return None
    label = int(pred[seed[1], seed[0]])
    if label in (BACKGROUND, NOT_PAINTED):
        return None
    ff = np.zeros((pred.shape[0] + 2, pred.shape[1] + 2), np.uint8)
    flags = 8 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    _, _, _, (x, y, rw, rh) = cv2.floodFill(pred, ff, seed, 0, 0, 0, flags)
    mask = ff[1 + y:1 + y + rh, 1 + x:1 + x + rw].astype(bool)
    return (y, y + rh, x, x + rw), mask, label


# -- superpixels --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segments:
    """SLIC superpixels of one image, kept at a reduced size.

    ``small`` is an ``(h, w)`` int32 map of segment ids ``0..n-1``; the full-size map is
    its nearest-neighbour enlargement to ``shape = (H, W)``, computed only for the
    rectangles asked for, so memory stays small on any image size.
    """

    small: np.ndarray
    shape: tuple[int, int]
    boxes: tuple[tuple[int, int, int, int], ...]  # per id: (sy0, sy1, sx0, sx1) in ``small``

    @property
    def count(self) -> int:
        """Number of segments."""
        return len(self.boxes)

    def _rows(self, y0: int, y1: int) -> np.ndarray:
        h, big = self.small.shape[0], self.shape[0]
        return np.minimum(((np.arange(y0, y1) + 0.5) * h / big).astype(np.intp), h - 1)

    def _cols(self, x0: int, x1: int) -> np.ndarray:
        w, big = self.small.shape[1], self.shape[1]
        return np.minimum(((np.arange(x0, x1) + 0.5) * w / big).astype(np.intp), w - 1)

    def full(self, region: Region) -> np.ndarray:
        """The full-size segment map over ``region = (y0, y1, x0, x1)``."""
        y0, y1, x0, x1 = region
        return self.small[np.ix_(self._rows(y0, y1), self._cols(x0, x1))]

    def ids_under(self, region: Region, mask: np.ndarray) -> set[int]:
        """Ids of the segments that the ``mask`` over ``region`` touches."""
        return {int(i) for i in np.unique(self.full(region)[mask])}

    def mask_of(self, ids: Iterable[int]) -> Selection | None:
        """The full-size pixels of segments ``ids``; None for no ids."""
        chosen = sorted(set(ids))
        if not chosen:
            return None
        boxes = np.array([self.boxes[i] for i in chosen])
        sy0, sy1 = boxes[:, 0].min(), boxes[:, 1].max()
        sx0, sx1 = boxes[:, 2].min(), boxes[:, 3].max()
        (h, w), (big_h, big_w) = self.small.shape, self.shape
        # full pixels whose nearest small pixel lies in the box, with one pixel to spare
        y0, y1 = max(0, int(sy0 * big_h / h) - 1), min(big_h, int(np.ceil(sy1 * big_h / h)) + 1)
        x0, x1 = max(0, int(sx0 * big_w / w) - 1), min(big_w, int(np.ceil(sx1 * big_w / w)) + 1)
        region = (y0, y1, x0, x1)
        return region, np.isin(self.full(region), chosen)


def slic_segments(rgb: np.ndarray, *, segment_side: int = 14, compactness: float = 10.0,
                  sigma: float = 1.0, max_side: int = SUPERPIXEL_SIDE) -> Segments:
    """SLIC superpixels (scikit-image) of an image, about ``segment_side`` pixels across.

    The image is first reduced so its longer side is at most ``max_side`` pixels;
    ``segment_side`` is measured on that reduced image, and so is ``sigma``, the Gaussian
    smoothing applied first (without it, noisy images give few ragged segments).  Slow
    on large images: run it off the GUI thread, once per image.
    """
    from scipy import ndimage
    from skimage.segmentation import slic

    img = _check_rgb(rgb)
    h, w = img.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = img if scale == 1.0 else cv2.resize(
        img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    n = max(1, round(small.shape[0] * small.shape[1] / max(1, segment_side) ** 2))
    seg = slic(small, n_segments=n, compactness=compactness, sigma=sigma, start_label=0,
               channel_axis=-1, enforce_connectivity=True)
    seg = np.ascontiguousarray(seg, dtype=np.int32)
    # renumber to 0..n-1 without gaps, so ids index ``boxes``
    _, seg = np.unique(seg, return_inverse=True)
    seg = seg.reshape(small.shape[:2]).astype(np.int32)
    boxes = tuple((s[0].start, s[0].stop, s[1].start, s[1].stop)
                  for s in ndimage.find_objects(seg + 1))
    return Segments(seg, (h, w), boxes)


def stroke_segments(segments: Segments, start: tuple[float, float], end: tuple[float, float],
                    radius: float) -> set[int]:
    """Ids of the segments a brush line from ``start`` to ``end`` (x, y) touches."""
    found = line_footprint(segments.shape, start, end, radius)
    if found is None:
        return set()
    region, mask = found
    return segments.ids_under(region, mask)
