"""Thumbnails (Qt-free numpy helpers plus the background generator that makes them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from engine.io.images import ImageReadError, read_image, read_mask
from engine.io.labels import BACKGROUND, NOT_PAINTED

THUMB = 72


def shrink(rgb: np.ndarray, size: int = THUMB) -> np.ndarray:
    """Downscale an (H, W, 3) image so its longer side is ``size`` pixels."""
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    if scale >= 1:
        return np.ascontiguousarray(rgb)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, new, interpolation=cv2.INTER_AREA)


def shrink_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an (H, W) label map to ``shape = (h, w)`` (unpainted
    pixels stay ``NOT_PAINTED``; :func:`tint` leaves them, and background, untinted)."""
    return cv2.resize(labels, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


def tint(thumb: np.ndarray, labels: np.ndarray | None,
         colors: dict[int, tuple[int, int, int]], alpha: float = 0.55) -> np.ndarray:
    """Blend class colours over a thumbnail where ``labels`` (same h, w) holds a class
    (not background, not unpainted)."""
    if labels is None:
        return thumb
    on = (labels != BACKGROUND) & (labels != NOT_PAINTED)
    if not on.any():
        return thumb
    lut = np.zeros((256, 3), np.float32)
    for class_id, color in colors.items():
        lut[class_id] = color
    out = thumb.astype(np.float32)
    out[on] = (1 - alpha) * out[on] + alpha * lut[labels[on]]
    return out.astype(np.uint8)


def _read_preview(path: Path) -> np.ndarray:
    try:  # engine.io.images may offer a fast reduced-size reader for very large images
        from engine.io.images import read_image_preview  # type: ignore[attr-defined]
    except ImportError:
        return read_image(path)
    return read_image_preview(path, 4 * THUMB)


def thumbnail_job(items: Sequence[tuple[str, Path, Path, Path]]
                  ) -> Iterator[tuple[str, np.ndarray | None, np.ndarray | None, str]]:
    """For each ``(name, image path, label path, prediction path)`` yield
    ``(name, thumb rgb or None, thumb labels or None, error message)``; the human label
    (read raw: 255 = not painted) or else the prediction tints the thumbnail.  Worker thread."""
    for name, image_path, label_path, prediction_path in items:
        try:
            thumb = shrink(_read_preview(image_path))
        except (ImageReadError, OSError, ValueError) as exc:
            yield name, None, None, str(exc)
            continue
        small = None
        for mask_path, raw in ((label_path, True), (prediction_path, False)):
            if mask_path.exists():
                try:
                    small = shrink_labels(read_mask(mask_path, raw=raw), thumb.shape[:2])
                except (ImageReadError, OSError, ValueError):
                    continue
                break
        yield name, thumb, small, ""
