"""Resizing to the working scale: the one geometry learning and prediction share.

numpy + OpenCV, no torch.
"""

from __future__ import annotations

import cv2
import numpy as np


def working_size(h: int, w: int, long_side: int) -> tuple[int, int]:
    """(h, w) scaled so the long side equals ``long_side`` (aspect ratio kept)."""
    f = long_side / max(h, w)
    return max(1, round(h * f)), max(1, round(w * f))


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``(H, W, 3) uint8`` to ``size`` = (h, w): area when shrinking, linear otherwise."""
    h, w = size
    if (h, w) == image.shape[:2]:
        return image
    interp = cv2.INTER_AREA if h * w < image.shape[0] * image.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=interp)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an ``(H, W) uint8`` label map to ``size`` = (h, w)."""
    h, w = size
    if (h, w) == mask.shape[:2]:
        return mask
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)


def pad_to_multiple(image: np.ndarray, multiple: int = 32) -> np.ndarray:
    """Pad bottom/right by edge replication so H and W are multiples of ``multiple``."""
    h, w = image.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if ph == 0 and pw == 0:
        return image
    pad = ((0, ph), (0, pw)) + ((0, 0),) * (image.ndim - 2)
    return np.pad(image, pad, mode="edge")
