"""Graphics items that draw label maps over the image, repainting only what changed.

A label map becomes a premultiplied ARGB32 buffer through a 256-entry colour table;
a brush stroke converts and repaints only its own rectangle, so painting stays
within one frame on a 4000 x 3000 image.  Unpainted pixels (255, :mod:`engine.io.labels`)
are transparent; the human labels show painted background as a light veil, so
Background strokes are visible, while predictions leave background clear.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from engine.io.labels import BACKGROUND, NOT_PAINTED

Region = tuple[int, int, int, int]

# Painted background in the human labels: a blue-grey veil (RGB, alpha).
BACKGROUND_RGBA = (150, 175, 215, 150)
HATCH = 4  # stripe width of a hatched layer, image pixels


def color_table(colors: dict[int, tuple[int, int, int]],
                background: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Return a (256, 4) uint8 premultiplied BGRA table: class id -> opaque colour;
    0 -> ``background`` (RGBA) or transparent; 255 (not painted) -> transparent."""
    table = np.zeros((256, 4), np.uint8)
    for class_id, (r, g, b) in colors.items():
        if 0 < class_id < NOT_PAINTED:
            table[class_id] = (b, g, r, 255)
    if background is not None:
        r, g, b, a = background
        table[BACKGROUND] = (b * a // 255, g * a // 255, r * a // 255, a)
    return table


def bgra_pixels(table: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8 labels -> ``(H, W)`` uint32 premultiplied ARGB pixels via a (256, 4)
    BGRA ``table``.

    Each pixel is looked up as one 32-bit word (the table's four bytes in memory order):
    several times faster than gathering four bytes per pixel, which made a wand or fill
    over a whole large image stall the window (``benchmarks/results/canvas-cpu.md``)."""
    words = np.ascontiguousarray(table, np.uint8).view(np.uint32).reshape(256)
    return words[labels]


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """Copy an (H, W, 3) uint8 RGB array into a QImage."""
    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class LabelLayer(QGraphicsItem):
    """Draws an (H, W) uint8 label map in class colours; item opacity sets the blend.

    ``show_background``: painted background (0) gets :data:`BACKGROUND_RGBA` (the human
    labels, where it was painted on purpose); otherwise it stays clear.
    """

    def __init__(self, parent: QGraphicsItem | None = None,
                 show_background: bool = False) -> None:
        super().__init__(parent)
        self._buffer = np.zeros((1, 1, 4), np.uint8)  # BGRA bytes the QImage points at
        self._image = QImage()
        self._background = BACKGROUND_RGBA if show_background else None
        self._table = color_table({}, self._background)
        self._hatched = False
        self._labels: np.ndarray | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def set_colors(self, colors: dict[int, tuple[int, int, int]]) -> None:
        """Set class colours and redraw everything."""
        self._table = color_table(colors, self._background)
        if self._labels is not None:
            self.set_labels(self._labels)

    def set_table(self, table: np.ndarray) -> None:
        """Set a raw (256, 4) BGRA table (e.g. one colour for 'low confidence')."""
        self._table = np.asarray(table, np.uint8)
        if self._labels is not None:
            self.set_labels(self._labels)

    def set_hatched(self, on: bool) -> None:
        """Draw diagonal stripes instead of a solid fill (a suggestion to click, not labels)."""
        if on != self._hatched:
            self._hatched = on
            if self._labels is not None:
                self.set_labels(self._labels)

    def _convert(self, region: Region) -> np.ndarray:
        """The ``(h, w)`` uint32 pixels of ``region`` (see :func:`bgra_pixels`)."""
        y0, y1, x0, x1 = region
        pixels = bgra_pixels(self._table, self._labels[y0:y1, x0:x1])  # type: ignore[index]
        if self._hatched:
            yy, xx = np.ogrid[y0:y1, x0:x1]
            pixels[((xx + yy) // HATCH) % 2 == 1] = 0
        return pixels

    def set_labels(self, labels: np.ndarray | None) -> None:
        """Show ``labels`` (kept by reference so :meth:`update_region` sees edits)."""
        self.prepareGeometryChange()
        self._labels = labels
        if labels is None:
            self._buffer = np.zeros((1, 1, 4), np.uint8)
            self._image = QImage()
        else:
            h, w = labels.shape
            self._buffer = self._convert((0, h, 0, w)).view(np.uint8).reshape(h, w, 4)
            self._image = QImage(self._buffer.data, w, h, 4 * w,
                                 QImage.Format.Format_ARGB32_Premultiplied)
        self.update()

    @property
    def labels(self) -> np.ndarray | None:
        """The label map shown (None when empty)."""
        return self._labels

    def update_region(self, region: Region) -> None:
        """Re-convert and repaint ``region = (y0, y1, x0, x1)`` after the labels changed."""
        if self._labels is None:
            return
        y0, y1, x0, x1 = region
        self._buffer.view(np.uint32)[y0:y1, x0:x1, 0] = self._convert(region)
        self.update(QRectF(x0, y0, x1 - x0, y1 - y0))

    def boundingRect(self) -> QRectF:
        if self._labels is None:
            return QRectF()
        h, w = self._labels.shape
        return QRectF(0, 0, w, h)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self._image.isNull():
            return
        rect = option.exposedRect.toAlignedRect().intersected(self._image.rect())  # type: ignore[attr-defined]
        if rect.isEmpty():
            return
        painter.drawImage(rect, self._image, rect)


def low_confidence_mask(confidence: np.ndarray, threshold: float) -> np.ndarray:
    """(H, W) uint8: 1 where ``confidence < threshold``, else 0."""
    return (np.asarray(confidence) < threshold).astype(np.uint8)


def hatch_table(color: Sequence[int] = (255, 230, 0)) -> np.ndarray:
    """Colour table for :func:`low_confidence_mask`: 1 -> ``color`` (RGB), 0 -> clear."""
    return color_table({1: (int(color[0]), int(color[1]), int(color[2]))})
