"""Grow a scribbled example's strokes over the superpixels they touch (an option, off).

A stroke along the middle of a large object labels a few per cent of it; the superpixels
(SLIC) it crosses are usually all inside the object, so their unpainted pixels can take the
stroke's label.  Two guards keep the label where it is likely right:

- a superpixel touched by strokes of two labels is left alone;
- a superpixel takes a class stroke's label only when the colour of its unpainted part is
  nearer the image's class strokes than its background strokes, and a background
  stroke's label only when nearer the background strokes (in CIE Lab).

How often the grown labels are right, per set, and what a model learns from them:
``benchmarks/results/scribble-propagation.md``.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.edit.selection import slic_segments
from engine.io.labels import NOT_PAINTED


def propagate_strokes(image: np.ndarray, mask: np.ndarray, segment_side: int,
                      classes: bool = True) -> np.ndarray:
    """``mask`` (0 = background, 1..N = class, NOT_PAINTED) with its strokes grown over the
    superpixels of ``image`` (RGB uint8, same size) about ``segment_side`` px across.

    ``classes``: grow class strokes too (else only background strokes).  Painted pixels
    never change; a mask with nothing unpainted is returned as it is."""
    unpainted = mask == NOT_PAINTED
    if not unpainted.any() or unpainted.all():
        return mask
    h, w = mask.shape
    seg = slic_segments(image, segment_side=segment_side, max_side=max(h, w)).full((0, h, 0, w))
    ids, n = seg.ravel(), int(seg.max()) + 1
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64)
    flat, free = mask.ravel(), unpainted.ravel()
    n_free = np.bincount(ids, weights=free, minlength=n)
    colour = np.stack([np.bincount(ids, weights=lab[:, j] * free, minlength=n)
                       for j in range(3)], 1) / np.maximum(n_free, 1)[:, None]
    painted = [int(v) for v in np.unique(flat[~free])]
    # per superpixel: which labels' strokes touch it; each label's mean stroke colour
    touched = {v: np.bincount(ids, weights=flat == v, minlength=n) > 0 for v in painted}
    n_touch = sum(t.astype(int) for t in touched.values())
    means = {v: lab[flat == v].mean(0) for v in painted}
    out = flat.copy()
    for v in [v for v in painted if classes or v == 0]:
        # nearer this label's strokes than every other label's (background included)
        near = np.ones(n, bool)
        d_own = ((colour - means[v]) ** 2).sum(1)
        for other, m in means.items():
            if other != v:
                near &= d_own < ((colour - m) ** 2).sum(1)
        grow = touched[v] & (n_touch == 1) & near & (n_free > 0)
        out[free & grow[ids]] = v
    return out.reshape(mask.shape)
