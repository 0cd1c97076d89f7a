"""Input checks of the support set, before anything is learned from it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.io.labels import ClassInfo, has_painting, num_classes


def check_support_set(images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                      classes: Sequence[ClassInfo]) -> None:
    """Raise ``ValueError`` with a plain message if the support set cannot be learned from."""
    if len(images) == 0:
        raise ValueError("no support images: paint at least one mask first")
    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images but {len(masks)} masks")
    ids = [c.id for c in classes]
    if ids != list(range(1, len(classes) + 1)):
        raise ValueError(f"class ids must be 1..N in order, got {ids}")
    for k, (im, m) in enumerate(zip(images, masks)):
        if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
            raise ValueError(f"support image {k}: expected (H, W, 3) uint8, "
                             f"got {im.shape} {im.dtype}")
        if m.shape != im.shape[:2]:
            raise ValueError(f"support {k}: mask size {m.shape[::-1]} "
                             f"!= image size {im.shape[1::-1]}")
        top = num_classes([m])
        if top > len(classes):
            raise ValueError(f"support {k}: mask has class id {top} but only "
                             f"{len(classes)} class(es) are defined")
        if not has_painting(m):
            raise ValueError(f"support {k}: nothing is painted on it")
    for c in classes:
        if not any((m == c.id).any() for m in masks):
            raise ValueError(f"class '{c.name}' is not painted in any support image")
