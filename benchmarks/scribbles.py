"""A simulated annotator: scribbles drawn from a ground-truth mask, as a person paints them.

Class strokes follow the skeleton of a foreground component, its branches cut where they
run towards the edge (the middle of the object, where a person puts the brush), widened by
the brush radius but never past the object's edge.
Background strokes are straight drags of random direction that stay a brush radius away from
every object.  Everything else is :data:`engine.io.labels.NOT_PAINTED`.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.io.labels import NOT_PAINTED


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Morphological skeleton (union of erosion residues) of a binary ``mask``."""
    kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    img = (mask > 0).astype(np.uint8)
    skel = np.zeros_like(img)
    while img.any():
        eroded = cv2.erode(img, kernel)
        skel |= img & ~cv2.dilate(eroded, kernel) & 1
        img = eroded
    return skel.astype(bool)


def medial_stroke(region: np.ndarray, brush: np.ndarray) -> np.ndarray:
    """The pixels of one brush stroke along the medial line of a boolean ``region``, kept
    inside it.  Only the middle of the skeleton (depth at least half the deepest): branches
    running out to the edge are not where a person strokes."""
    depth = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)
    line = skeleton(region) & (depth >= 0.5 * depth.max())
    if not line.any():
        line = region
    return (cv2.dilate(line.astype(np.uint8), brush) > 0) & region


def brush_radius(shape: tuple[int, int]) -> int:
    """Brush radius a person would use on an image of ``shape`` (about 1/150 of the long side)."""
    return max(2, round(max(shape) / 150))


def scribble(mask: np.ndarray, strokes: int, rng: np.random.Generator,
             radius: int | None = None) -> np.ndarray:
    """``strokes`` strokes on a binary ``mask`` (0/1): ``ceil(strokes / 2)`` on the class,
    the rest (at least one) on the background.  Returns 0 / 1 / NOT_PAINTED."""
    mask = (mask > 0).astype(np.uint8)
    r = radius or brush_radius(mask.shape)
    out = np.full(mask.shape, NOT_PAINTED, np.uint8)
    n_fg, n_bg = (strokes + 1) // 2, max(1, strokes // 2)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    n, comp, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n > 1:
        order = rng.permutation(np.arange(1, n))
        # A person marks the objects they see first: bigger ones more likely.
        area = stats[order, cv2.CC_STAT_AREA].astype(np.float64)
        order = rng.choice(order, size=min(n_fg, n - 1), replace=False, p=area / area.sum())
        for c in order:
            out[medial_stroke(comp == c, disc)] = 1
    far = cv2.distanceTransform((1 - mask).astype(np.uint8), cv2.DIST_L2, 5) > 2 * r + 1
    h, w = mask.shape
    length = max(h, w) / 6
    ys, xs = np.nonzero(far)
    for _ in range(n_bg if ys.size else 0):
        k = int(rng.integers(ys.size))
        angle = rng.uniform(0, np.pi)
        dy, dx = np.sin(angle) * length / 2, np.cos(angle) * length / 2
        line = np.zeros_like(mask)
        cv2.line(line, (int(xs[k] - dx), int(ys[k] - dy)), (int(xs[k] + dx), int(ys[k] + dy)), 1,
                 2 * r + 1)
        out[(line > 0) & far & (out == NOT_PAINTED)] = 0
    return out


def correct(scribbled: np.ndarray, prediction: np.ndarray, mask: np.ndarray, strokes: int,
            radius: int | None = None) -> np.ndarray:
    """``strokes`` more strokes where ``prediction`` is wrong, as a person correcting a live
    overlay paints them: along the medial line of the largest wrong regions, class where the
    class was missed, background where it was found wrongly.  Returns the updated scribble."""
    mask = (mask > 0).astype(np.uint8)
    pred = (prediction > 0).astype(np.uint8)
    r = radius or brush_radius(mask.shape)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    out = scribbled.copy()
    regions = []
    for wrong, value in (((pred == 1) & (mask == 0), 0), ((pred == 0) & (mask == 1), 1)):
        n, comp, stats, _ = cv2.connectedComponentsWithStats(wrong.astype(np.uint8), connectivity=8)
        regions += [(int(stats[c, cv2.CC_STAT_AREA]), value, comp == c) for c in range(1, n)]
    regions.sort(key=lambda t: -t[0])
    for _, value, region in regions[:strokes]:
        out[medial_stroke(region, disc)] = value
    return out
