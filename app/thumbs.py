"""Thumbnails (Qt-free numpy helpers plus the background generator that makes them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from engine.io import ImageReadError, read_image, read_mask

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
    """Nearest-neighbour resize of an (H, W) label map to ``shape = (h, w)``."""
    return cv2.resize(labels, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


def tint(thumb: np.ndarray, labels: np.ndarray | None,
         colors: dict[int, tuple[int, int, int]], alpha: float = 0.55) -> np.ndarray:
    """Blend class colours over a thumbnail where ``labels`` (same h, w) is non-zero."""
    if labels is None or not labels.any():
        return thumb
    lut = np.zeros((256, 3), np.float32)
    for class_id, color in colors.items():
        lut[class_id] = color
    out = thumb.astype(np.float32)
    on = labels > 0
    out[on] = (1 - alpha) * out[on] + alpha * lut[labels[on]]
    return out.astype(np.uint8)


def _read_preview(path: Path) -> np.ndarray:
    try:  # engine.io may offer a fast reduced-size reader for very large images
        from engine.io import read_image_preview  # type: ignore[attr-defined]
    except ImportError:
        return read_image(path)
    return read_image_preview(path, 4 * THUMB)


def thumbnail_job(items: Sequence[tuple[str, Path, Sequence[Path]]]
                  ) -> Iterator[tuple[str, np.ndarray | None, np.ndarray | None, str]]:
    """For each ``(name, image path, mask paths)`` yield
    ``(name, thumb rgb or None, thumb labels or None, error message)``; the first mask path
    that exists (human label, then prediction) tints the thumbnail.  Worker thread."""
    for name, image_path, mask_paths in items:
        try:
            thumb = shrink(_read_preview(image_path))
        except (ImageReadError, OSError, ValueError) as exc:
            yield name, None, None, str(exc)
            continue
        small = None
        for mask_path in mask_paths:
            if mask_path.exists():
                try:
                    small = shrink_labels(read_mask(mask_path), thumb.shape[:2])
                except (ImageReadError, OSError, ValueError):
                    continue
                break
        yield name, thumb, small, ""
