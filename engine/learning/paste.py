"""Stroke pasting: teach scribbled examples what background right next to the class looks like.

With scribbles, a person paints the class in the middle of its objects and the background
away from them; the band around every object is left unpainted.  Nothing then tells the
model where an object ends, and it learns "near the class" as class: it over-segments, with
confident halos around every object (what ``benchmarks/effort.py`` measured before this).

Pasting fixes the missing evidence with pixels the person did paint: in augmented views of a
scribbled example, a few of its painted class regions (connected components of its class
strokes, at working scale) are copied, pixels and labels, onto its painted background
strokes (before the view is scaled, cropped, turned and jittered).  The background strokes
around each paste keep their label, so the view now shows painted background touching
painted class, as complete masks do.  Copy-paste augmentation is common for instance
segmentation; here it only moves painted pixels, so no label is invented.  Complete masks
(no unpainted pixel) are never pasted into: their models stay the same.

An option (``LearnConfig.paste``), off by default: it shrinks the halos on some draws and not
on others; on the scribbled draws not used to design it the gain averaged +0.1 IoU points
(``benchmarks/results/effort-k5-n10-paste.md``, ``scribble-halo.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from engine.io.labels import BACKGROUND, class_pixels

MAX_PASTES = 3  # pastes per view: 1 to this many


@dataclass(frozen=True)
class Piece:
    """One connected region of class strokes: its bounding-box pixels, labels and shape."""

    image: np.ndarray  # (h, w, 3) uint8
    labels: np.ndarray  # (h, w) uint8 class ids where ``shape``
    shape: np.ndarray  # (h, w) bool


def stroke_pieces(image: np.ndarray, mask: np.ndarray, min_pixels: int = 9) -> list[Piece]:
    """The connected regions of class pixels of ``mask`` (working scale), as pieces to paste;
    regions under ``min_pixels`` are skipped (a stray dab says nothing)."""
    pieces = []
    for c in np.unique(mask[class_pixels(mask)]):
        n, comp, stats, _ = cv2.connectedComponentsWithStats((mask == c).astype(np.uint8),
                                                             connectivity=8)
        for k in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[k])
            if area < min_pixels:
                continue
            shape = comp[y:y + h, x:x + w] == k
            pieces.append(Piece(image[y:y + h, x:x + w].copy(),
                                np.where(shape, c, 0).astype(np.uint8), shape))
    return pieces


def paste_strokes(image: np.ndarray, mask: np.ndarray, pieces: Sequence[Piece],
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``image`` and ``mask`` (working scale, sparse) with 1-:data:`MAX_PASTES` pieces pasted,
    each centred on a random painted background pixel.  Unchanged (same arrays) when there is
    no piece or no painted background pixel."""
    ys, xs = np.nonzero(mask == BACKGROUND)
    if not pieces or ys.size == 0:
        return image, mask
    image, mask = image.copy(), mask.copy()
    H, W = mask.shape
    for _ in range(int(rng.integers(1, MAX_PASTES + 1))):
        piece = pieces[int(rng.integers(len(pieces)))]
        k = int(rng.integers(ys.size))
        h, w = piece.shape.shape
        y0, x0 = int(ys[k]) - h // 2, int(xs[k]) - w // 2
        # Clip the piece to the image.
        py0, px0 = max(0, -y0), max(0, -x0)
        py1, px1 = min(h, H - y0), min(w, W - x0)
        if py1 <= py0 or px1 <= px0:
            continue
        shape = piece.shape[py0:py1, px0:px1]
        dst = (slice(y0 + py0, y0 + py1), slice(x0 + px0, x0 + px1))
        image[dst][shape] = piece.image[py0:py1, px0:px1][shape]
        mask[dst][shape] = piece.labels[py0:py1, px0:px1][shape]
    return image, mask
