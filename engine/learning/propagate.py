"""Grow a scribbled example's strokes over the superpixels they touch.

A stroke along the middle of a large object labels a few per cent of it; the superpixels
(SLIC) it crosses are usually all inside the object, so their unpainted pixels can take the
stroke's label.  Two guards keep the label where it is likely right:

- a superpixel touched by strokes of two labels is left alone;
- a superpixel takes a class stroke's label only when the colour of its unpainted part is
  nearer the image's class strokes than its background strokes, and a background
  stroke's label only when nearer the background strokes (in CIE Lab).

The learner grows background strokes only, by default (``LearnConfig.propagate_classes``):
grown class labels were often wrong on thin objects.  How often the grown labels are right,
per set, and what a model learns from them: ``benchmarks/results/scribble-propagation.md``
(both grown) and ``effort-k5-n10-propagate-bg.md`` (background only).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import cv2
import numpy as np

from engine.edit.selection import slic_segments
from engine.io.labels import NOT_PAINTED

if TYPE_CHECKING:
    from .config import LearnConfig


def stroke_growth(cfg: LearnConfig) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """The ``(image, mask) -> mask`` growth the learner applies to each example, from the
    config's ``propagate`` settings; None when ``propagate`` is 0."""
    if cfg.propagate <= 0:
        return None
    return partial(propagate_strokes, segment_side=cfg.propagate,
                   classes=cfg.propagate_classes, margin=cfg.propagate_margin)


def propagate_strokes(image: np.ndarray, mask: np.ndarray, segment_side: int,
                      classes: bool = True, margin: int = 0) -> np.ndarray:
    """``mask`` (0 = background, 1..N = class, NOT_PAINTED) with its strokes grown over the
    superpixels of ``image`` (RGB uint8, same size) about ``segment_side`` px across.

    ``classes``: grow class strokes too (else only background strokes).  ``margin``: a grown
    pixel keeps its new label only when every pixel within this many px (a square) has that
    label too, painted or grown (before this rule): superpixel borders rarely fall exactly on
    an object's edge, and a grown rim of the wrong label teaches the model to cut every
    object's rim.  Painted pixels never change; a mask with nothing unpainted is returned as
    it is."""
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
        new = free & grow[ids]
        if margin > 0 and new.any():
            same = ((flat == v) | new).reshape(mask.shape).astype(np.uint8)
            inner = cv2.erode(same, np.ones((2 * margin + 1,) * 2, np.uint8),
                              borderType=cv2.BORDER_REPLICATE)
            new &= inner.ravel() > 0
        out[new] = v
    return out.reshape(mask.shape)
