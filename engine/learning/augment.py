"""Augmented training views: crops, flips, rotations, colour jitter (numpy + OpenCV, no torch).

The resizing they share with prediction is in :mod:`engine.io.resize`.
"""

from __future__ import annotations

import numpy as np

from engine.io.labels import class_pixels
from engine.io.resize import resize_image, resize_mask


def _crop_origin(mask: np.ndarray, crop: int, rng: np.random.Generator,
                 fg_bias: float) -> tuple[int, int]:
    h, w = mask.shape
    ys, xs = np.nonzero(class_pixels(mask))
    if ys.size and rng.random() < fg_bias:
        k = rng.integers(ys.size)
        cy, cx = ys[k] - crop // 2 + rng.integers(-crop // 4, crop // 4 + 1), xs[k] - crop // 2
    else:
        cy, cx = rng.integers(0, max(h - crop, 0) + 1), rng.integers(0, max(w - crop, 0) + 1)
    return int(np.clip(cy, 0, max(h - crop, 0))), int(np.clip(cx, 0, max(w - crop, 0)))


def _fit_crop(a: np.ndarray, crop: int) -> np.ndarray:
    """Reflect-pad ``a`` up to at least ``crop`` in both dimensions."""
    h, w = a.shape[:2]
    ph, pw = max(crop - h, 0), max(crop - w, 0)
    if ph or pw:
        pad = ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)) + ((0, 0),) * (a.ndim - 2)
        a = np.pad(a, pad, mode="reflect" if min(h, w) > 1 else "edge")
    return a


def colour_jitter(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Random brightness, contrast, saturation and gamma, each within ±``strength``."""
    x = image.astype(np.float32) / 255.0
    x = x * (1 + rng.uniform(-strength, strength)) + rng.uniform(-strength, strength) * 0.5
    mean = x.mean()
    x = (x - mean) * (1 + rng.uniform(-strength, strength)) + mean
    gray = x.mean(axis=2, keepdims=True)
    x = (x - gray) * (1 + rng.uniform(-strength, strength)) + gray
    x = np.clip(x, 0, 1) ** np.exp(rng.uniform(-strength, strength))
    return (x * 255.0 + 0.5).astype(np.uint8)


def augmented_view(image: np.ndarray, mask: np.ndarray, crop: int, rng: np.random.Generator,
                   scale_range: tuple[float, float] = (0.75, 1.33), jitter: float = 0.2,
                   fg_bias: float = 0.5, invert: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """One random square view of a working-scale image and its label map.

    Random scale, crop (biased towards foreground), flips, 90° rotations and colour jitter;
    with chance ``invert`` the intensities are inverted (``255 - x``, RandAugment's *Invert*).
    Returns ``(crop, crop, 3) uint8`` and ``(crop, crop) uint8``.
    """
    f = float(np.exp(rng.uniform(np.log(scale_range[0]), np.log(scale_range[1]))))
    size = (max(8, round(image.shape[0] * f)), max(8, round(image.shape[1] * f)))
    img, msk = _fit_crop(resize_image(image, size), crop), _fit_crop(resize_mask(mask, size), crop)
    y, x = _crop_origin(msk, crop, rng, fg_bias)
    img, msk = img[y:y + crop, x:x + crop], msk[y:y + crop, x:x + crop]
    k = int(rng.integers(4))
    img, msk = np.rot90(img, k), np.rot90(msk, k)
    if rng.random() < 0.5:
        img, msk = img[:, ::-1], msk[:, ::-1]
    img = colour_jitter(np.ascontiguousarray(img), rng, jitter) if jitter > 0 else img
    if invert > 0 and rng.random() < invert:
        img = 255 - img
    return np.ascontiguousarray(img), np.ascontiguousarray(msk)


def plain_view(image: np.ndarray, mask: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """The un-augmented view: the working-scale image reflect-padded/centre-cropped to ``crop``."""
    img, msk = _fit_crop(image, crop), _fit_crop(mask, crop)
    y, x = (img.shape[0] - crop) // 2, (img.shape[1] - crop) // 2
    return (np.ascontiguousarray(img[y:y + crop, x:x + crop]),
            np.ascontiguousarray(msk[y:y + crop, x:x + crop]))
