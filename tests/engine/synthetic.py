"""Synthetic few-shot data: bright discs (class 1) and squares (class 2) on textured noise."""

from __future__ import annotations

import numpy as np


def make_sample(rng: np.random.Generator, h: int = 128, w: int = 128, squares: bool = False,
                n_shapes: int = 3, radius: tuple[int, int] = (9, 16)
                ) -> tuple[np.ndarray, np.ndarray]:
    """One ``(h, w, 3) uint8`` image and its ``(h, w) uint8`` label map."""
    img = rng.normal(90, 25, (h, w, 3)).clip(0, 255)
    mask = np.zeros((h, w), np.uint8)
    yy, xx = np.mgrid[:h, :w]
    kinds = [1, 2] if squares else [1]
    for k in range(n_shapes):
        cls = kinds[k % len(kinds)]
        r = int(rng.integers(*radius))
        cy, cx = int(rng.integers(r, h - r)), int(rng.integers(r, w - r))
        if cls == 1:
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            colour = (235, 225, 120)
        else:
            inside = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
            colour = (70, 200, 235)
        img[inside] = np.array(colour) + rng.normal(0, 10, (int(inside.sum()), 3))
        mask[inside] = cls
    return img.clip(0, 255).astype(np.uint8), mask


def make_set(seed: int, n: int, **kw) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``n`` samples from a seeded generator."""
    rng = np.random.default_rng(seed)
    pairs = [make_sample(rng, **kw) for _ in range(n)]
    return [p[0] for p in pairs], [p[1] for p in pairs]
