"""What a painted label map means: class pixels, background pixels, pixels nobody painted.

One convention for the whole engine: in a label map handed to learning, ``NOT_PAINTED``
(255) marks a pixel that carries no label; 0 is background; 1..C are classes (C <= 254).
Every loss ignores ``NOT_PAINTED`` pixels and the teacher attends only over painted support
pixels, so a few scribbles on the class and on the background are a valid example.

The project's label files (``labels/<stem>.png``) use the same values, with one rule that
keeps complete masks and old projects meaning what they meant: **an image with no background
pixel at all is a complete example** (its unpainted pixels are background, as before sparse
labels existed); as soon as it has one background pixel (painted with the *Background*
brush, or an old/accepted mask, which is background wherever it is not a class), unpainted
pixels are ignored.  :func:`training_mask` applies that rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOT_PAINTED = 255

#: The default class colours (RGB) by class id 1, 2, ... (cycled): new project classes,
#: classes learned without colours, and label formats that carry no colour.
DEFAULT_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 64, 64), (64, 160, 255), (80, 220, 100), (255, 200, 40),
    (200, 90, 255), (0, 220, 220), (255, 120, 200), (160, 120, 60),
)


@dataclass(frozen=True)
class ClassInfo:
    """A foreground class: ``id`` (1..N, the value in label maps), ``name``, ``color`` (RGB).

    One record for a class wherever it appears: the project's classes, a model's classes and
    the classes of a label format.
    """

    id: int
    name: str
    color: tuple[int, int, int] = (255, 0, 0)


def default_color(class_id: int) -> tuple[int, int, int]:
    """The default colour of class ``class_id`` (1-based) from :data:`DEFAULT_COLORS`."""
    return DEFAULT_COLORS[(class_id - 1) % len(DEFAULT_COLORS)]


def default_classes(n: int) -> list[ClassInfo]:
    """``n`` classes named ``class1..classN`` with distinct colours."""
    return [ClassInfo(i, f"class{i}", default_color(i)) for i in range(1, n + 1)]
BACKGROUND = 0
MAX_CLASSES = NOT_PAINTED - 1


def painted(labels: np.ndarray) -> np.ndarray:
    """Boolean map of the pixels that carry a label (background or a class)."""
    return np.asarray(labels) != NOT_PAINTED


def class_pixels(labels: np.ndarray) -> np.ndarray:
    """Boolean map of the pixels painted with a class (not background, not unpainted)."""
    arr = np.asarray(labels)
    return (arr != BACKGROUND) & (arr != NOT_PAINTED)


def is_sparse(labels: np.ndarray) -> bool:
    """True when some pixels are not painted (the losses must skip them)."""
    return bool((np.asarray(labels) == NOT_PAINTED).any())


def has_painting(labels: np.ndarray) -> bool:
    """True when any pixel is painted (background or a class): the image is an example."""
    return bool((np.asarray(labels) != NOT_PAINTED).any())


def training_mask(labels: np.ndarray) -> np.ndarray:
    """A project label map as learning sees it (see the module docstring).

    No background pixel: unpainted pixels become background (a complete example).
    Otherwise: unchanged, unpainted pixels stay ``NOT_PAINTED`` and are ignored.
    """
    arr = np.asarray(labels, dtype=np.uint8)
    if (arr == BACKGROUND).any():
        return arr
    return np.where(arr == NOT_PAINTED, BACKGROUND, arr).astype(np.uint8)


def apply_ignore_value(raw: np.ndarray, ignore_value: int) -> np.ndarray:
    """A mask read as raw values, with pixels equal to ``ignore_value`` marked not painted.

    The rest is read as :func:`engine.io.images.read_mask` reads masks: when only the values 0 and
    255 remain, 255 is class 1 (a binary mask), otherwise values are class indices.  This is
    the meaning of ``distillfss learn --ignore-value V``; unlike :func:`training_mask`, a mask
    with an explicit ignore value is never completed.
    """
    arr = np.asarray(raw, dtype=np.uint8)
    ignore = arr == int(ignore_value)
    rest = arr[~ignore]
    values = np.unique(rest)
    if values.size and values.max() == 255 and set(values.tolist()) <= {0, 255}:
        out = (arr > 127).astype(np.uint8)
    else:
        out = arr.copy()
    if (out[~ignore] == NOT_PAINTED).any():
        raise ValueError(f"class value {NOT_PAINTED} is reserved for unpainted pixels")
    out[ignore] = NOT_PAINTED
    return out


def num_classes(masks: list[np.ndarray]) -> int:
    """Highest class index painted in any mask (unpainted pixels do not count)."""
    top = 0
    for m in masks:
        arr = np.asarray(m)
        vals = arr[arr != NOT_PAINTED]
        if vals.size:
            top = max(top, int(vals.max()))
    return top
