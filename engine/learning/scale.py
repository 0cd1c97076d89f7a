"""Choosing the working scale from the size of the painted objects."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from engine.io.labels import class_pixels
from engine.io.resize import resize_mask, working_size


def median_object_diameter(masks: Sequence[np.ndarray], long_side: int) -> float | None:
    """Median equivalent diameter (px, at working scale ``long_side``) of the connected
    foreground components of ``masks`` (``(H, W) uint8``, any class; unpainted pixels are
    not objects); None without any."""
    diameters = []
    for m in masks:
        small = resize_mask(m, working_size(m.shape[0], m.shape[1], long_side))
        _, _, stats, _ = cv2.connectedComponentsWithStats(class_pixels(small).astype(np.uint8),
                                                          connectivity=8)
        diameters += [float(np.sqrt(4 * a / np.pi)) for a in stats[1:, cv2.CC_STAT_AREA]]
    return float(np.median(diameters)) if diameters else None


def object_scaled_size(masks: Sequence[np.ndarray], long_side: int, crop: int,
                       floor: float = 1 / 2) -> int:
    """Working long side so that the typical object fits a training crop with context.

    Training sees ``crop``-px views; when the median object is wider than a third of a crop
    (e.g. polyps, ~150-250 px at 512 px), a view shows a piece of one object and little
    around it.  Then the scale shrinks so the median object is a third of a crop, but not
    below ``floor`` of ``long_side`` (fine structures must survive), rounded to 32 px.  The
    floor, half of the default 512 px, is the 256 px that polyps measured best at among 384,
    288, 256 and 224 px (``benchmarks/results/ablation-k5-2026-11-26.md``); the other four
    shared sets have small objects and keep the full scale.
    """
    d = median_object_diameter(masks, long_side)
    if d is None or d <= crop / 3:
        return long_side
    side = max(long_side * floor, long_side * (crop / 3) / d)
    return max(32, int(round(side / 32)) * 32)  # noqa: RUF046 - side may be a numpy float
