"""The canvas's smart selection tools: Box (GrabCut), Wand, Superpixel brush, Take prediction.

The computations are :mod:`engine.edit.selection`'s.  The quick ones (wand, superpixel
lookup, predicted component) run in the mouse handlers; GrabCut and SLIC run in worker
threads (:class:`app.jobs.Job`) and their results are applied here, on the main thread,
as one undo step.  The canvas opens a document stroke on press and closes it on release,
so each gesture is one undo step; a GrabCut result that arrives later is a step of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsPixmapItem

from app.jobs import Job
from app.layers import bgra_pixels
from app.tools import Tool
from engine.edit.selection import (
    Segments,
    grabcut_box,
    prediction_component,
    slic_segments,
    stroke_segments,
    wand_image,
    wand_region,
)

if TYPE_CHECKING:
    from app.canvas import MaskCanvas
    from engine.edit.document import MaskDocument, Region

WAND_TOLERANCE = 32          # default colour tolerance (per RGB channel, 0..255)
WAND_STEP = 4                # tolerance change per wheel notch
WAND_PIXELS_PER_STEP = 3     # a horizontal drag of this many screen pixels changes it by 1
PREVIEW_BGRA = (0, 200, 255, 150)  # the wand's selection preview: yellow, translucent
PREVIEW_SIDE = 2048  # a larger preview is drawn from every n-th pixel (it follows the drag)

COMPUTING = ("Computing superpixels… the Superpixel brush paints like the normal brush "
             "until they are ready")


def _bgra_image(mask: np.ndarray) -> QImage:
    """A premultiplied ARGB image: ``PREVIEW_BGRA`` where ``mask``, clear elsewhere."""
    h, w = mask.shape
    b, g, r, a = PREVIEW_BGRA
    table = np.zeros((256, 4), np.uint8)
    table[1] = (b * a // 255, g * a // 255, r * a // 255, a)
    buf = bgra_pixels(table, np.ascontiguousarray(mask).view(np.uint8))
    return QImage(buf.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied).copy()


class SmartTools(QObject):
    """Mouse gestures of the smart tools on ``canvas`` (press / move / release)."""

    message = Signal(str)          # a line for the status bar
    superpixels_ready = Signal()   # the shown image's superpixels were computed

    def __init__(self, canvas: MaskCanvas) -> None:
        super().__init__(canvas)
        self.canvas = canvas
        self.tolerance = WAND_TOLERANCE
        self.segments: Segments | None = None
        self._segments_of: np.ndarray | None = None   # the image they belong to
        self._slic: Job | None = None
        self._grabcut: Job | None = None
        self._pending: tuple[MaskDocument, Region, np.ndarray, int] | None = None
        self._box_from: tuple[float, float] | None = None
        self._wand: tuple[tuple[float, float], float, int] | None = None  # seed, x, tolerance
        self._wand_found: tuple[Region, np.ndarray] | None = None
        self._wand_image: tuple[np.ndarray, np.ndarray] | None = None  # (rgb, filtered)
        self._painted: set[int] = set()  # superpixels painted by the current stroke
        self._box_item = QGraphicsPathItem()
        self._box_item.setPen(QPen(QColor(255, 255, 0), 0, Qt.PenStyle.DashLine))
        self._preview = QGraphicsPixmapItem()
        for z, item in ((20, self._preview), (21, self._box_item)):
            item.setZValue(z)
            canvas.scene().addItem(item)

    # -- state -------------------------------------------------------------------------
    @property
    def dragging(self) -> bool:
        """True while a box or wand gesture can still be cancelled (Escape)."""
        return self._box_from is not None or self._wand is not None

    @property
    def busy(self) -> bool:
        """True while GrabCut or SLIC runs."""
        return self._grabcut is not None or self._slic is not None

    def tool_changed(self) -> None:
        """The canvas tool changed: the superpixel brush needs the image's superpixels."""
        tool = self.canvas.tool
        if tool == Tool.SUPERPIXEL:
            self._ensure_segments()
        elif tool == Tool.WAND:
            self.message.emit(self._tolerance_text())

    def image_changed(self) -> None:
        """Another image is shown: its superpixels are computed again (when needed)."""
        self.cancel()
        if self._slic is not None:
            self._slic.detach()
            self._slic = None
        if self.canvas.rgb is not self._segments_of:
            self.segments, self._segments_of = None, None
        self._wand_image = None
        if self.canvas.tool == Tool.SUPERPIXEL:
            self._ensure_segments()

    def cancel(self) -> bool:
        """Drop a box or wand gesture in progress; True when there was one."""
        had = self.dragging
        self._box_from = self._wand = self._wand_found = None
        self._box_item.setPath(QPainterPath())
        self._preview.setVisible(False)
        self._preview.setPixmap(QPixmap())
        return had

    def shutdown(self) -> None:
        """Stop the workers (the canvas or window is going away)."""
        for job in (self._slic, self._grabcut):
            if job is not None:
                job.detach()
        self._slic = self._grabcut = None

    # -- gestures (called by the canvas inside a document stroke) ---------------------------
    def press(self, pos: tuple[float, float]) -> None:
        """Left button down at image point ``pos`` (scene coordinates)."""
        tool = self.canvas.tool
        if tool == Tool.BOX:
            self._box_from = pos
            self._draw_box(pos)
        elif tool == Tool.WAND:
            self._wand = (pos, pos[0], self.tolerance)
            self._update_wand()
        elif tool == Tool.SUPERPIXEL:
            self._painted = set()
            self._paint_superpixels(pos, pos)
        elif tool == Tool.TAKE:
            self._take(pos)

    def move(self, last: tuple[float, float], pos: tuple[float, float]) -> None:
        """The mouse moved from ``last`` to ``pos`` with the button down."""
        tool = self.canvas.tool
        if tool == Tool.BOX and self._box_from is not None:
            self._draw_box(pos)
        elif tool == Tool.WAND and self._wand is not None:
            _, x0, tol0 = self._wand
            steps = round((pos[0] - x0) * self.canvas.zoom / WAND_PIXELS_PER_STEP)
            tolerance = int(np.clip(tol0 + steps, 0, 255))
            if tolerance != self.tolerance:
                self.tolerance = tolerance
                self.message.emit(self._tolerance_text())
                self._update_wand()
        elif tool == Tool.SUPERPIXEL:
            self._paint_superpixels(last, pos)

    def release(self, pos: tuple[float, float]) -> None:
        """Left button up: the wand paints its region; the box starts GrabCut."""
        tool = self.canvas.tool
        if tool == Tool.BOX and self._box_from is not None:
            start = self._box_from
            self.cancel()
            self._start_grabcut(start, pos)
        elif tool == Tool.WAND and self._wand is not None:
            found, doc = self._wand_found, self.canvas.document
            self.cancel()
            if found is not None and doc is not None:
                doc.paint_mask(found[0], found[1], self.canvas.active_label)

    def wheel(self, steps: float) -> None:
        """The wheel turned while the wand is active: change its tolerance."""
        before = self.tolerance
        self.tolerance = int(np.clip(before + round(steps * WAND_STEP), 0, 255))
        self.message.emit(self._tolerance_text())
        if self._wand is not None:  # during a drag: shift the drag's starting tolerance too
            seed, x0, tol0 = self._wand
            self._wand = (seed, x0, tol0 + self.tolerance - before)
            self._update_wand()

    def _tolerance_text(self) -> str:
        return (f"Wand tolerance {self.tolerance} (scroll, or drag sideways while the button "
                "is down, to change it; Ctrl+scroll zooms)")

    # -- box: GrabCut in a worker ---------------------------------------------------------------
    def _draw_box(self, pos: tuple[float, float]) -> None:
        if self._box_from is None:
            return
        path = QPainterPath()
        path.addRect(QRectF(QPointF(*self._box_from), QPointF(*pos)).normalized())
        self._box_item.setPath(path)

    def _start_grabcut(self, a: tuple[float, float], b: tuple[float, float]) -> None:
        rgb, doc = self.canvas.rgb, self.canvas.document
        if rgb is None or doc is None:
            return
        box = (min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))
        if box[2] - box[0] < 3 or box[3] - box[1] < 3:
            self.message.emit("Box: drag a rectangle around the object.")
            return
        if self._grabcut is not None:
            self._grabcut.detach()  # a newer box replaces it
        label = self.canvas.active_label
        # the labels so far (copied: painting goes on meanwhile) guide it where sparse
        job = self._grabcut = Job(grabcut_box, rgb, box, hints=np.array(doc.labels), label=label)
        job.returned.connect(lambda found: self._on_grabcut(doc, found, label))
        job.errored.connect(lambda msg: self.message.emit(f"Box selection failed: {msg}"))
        job.finished.connect(lambda _c: self._on_grabcut_finished(job))
        self.message.emit("Box: finding the object (GrabCut)…")

    def _on_grabcut(self, doc: MaskDocument, found: Any, label: int) -> None:
        if found is None or not found[1].any():
            self.message.emit("Box: no object found in the rectangle.")
            return
        self._pending = (doc, found[0], found[1], label)
        self._apply_pending()

    def _apply_pending(self) -> None:
        if self._pending is None:
            return
        if self.canvas.stroke_active:  # a stroke in progress: its undo step comes first
            QTimer.singleShot(50, self._apply_pending)
            return
        (doc, region, mask, label), self._pending = self._pending, None
        if self.canvas.apply_selection(doc, region, mask, label):
            self.message.emit("Box: object filled (Ctrl+Z undoes it).")

    def _on_grabcut_finished(self, job: Job) -> None:
        if self._grabcut is job:
            self._grabcut = None

    # -- wand -------------------------------------------------------------------------------------
    def _update_wand(self) -> None:
        rgb = self.canvas.rgb
        if self._wand is None or rgb is None:
            return
        if self._wand_image is None or self._wand_image[0] is not rgb:
            self._wand_image = (rgb, wand_image(rgb))  # once per image (tens of ms when large)
        seed = self._wand[0]
        found = self._wand_found = wand_region(self._wand_image[1], (seed[0] - 0.5, seed[1] - 0.5),
                                               self.tolerance)
        if found is None:
            self._preview.setVisible(False)
            return
        (y0, _, x0, _), mask = found
        step = -(-max(mask.shape) // PREVIEW_SIDE)  # ceil
        self._preview.setPixmap(QPixmap.fromImage(_bgra_image(mask[::step, ::step])))
        self._preview.setScale(step)
        self._preview.setPos(x0, y0)
        self._preview.setVisible(True)

    # -- superpixel brush --------------------------------------------------------------------------
    def _ensure_segments(self) -> None:
        rgb = self.canvas.rgb
        if rgb is None or self.segments is not None or self._slic is not None:
            if self.segments is None and self._slic is not None:
                self.message.emit(COMPUTING)
            return
        job = self._slic = Job(slic_segments, rgb)
        job.returned.connect(lambda seg: self._on_segments(rgb, seg))
        job.errored.connect(lambda msg: self.message.emit(f"Superpixels failed: {msg}"))
        job.finished.connect(lambda _c: self._on_slic_finished(job))
        self.message.emit(COMPUTING)

    def _on_segments(self, rgb: np.ndarray, segments: Segments) -> None:
        if rgb is not self.canvas.rgb:
            return  # computed for an image no longer shown
        self.segments, self._segments_of = segments, rgb
        self.message.emit(f"Superpixels ready ({segments.count}): strokes now fill whole "
                          "superpixels.")
        self.superpixels_ready.emit()

    def _on_slic_finished(self, job: Job) -> None:
        if self._slic is job:
            self._slic = None

    def _paint_superpixels(self, a: tuple[float, float], b: tuple[float, float]) -> None:
        doc, c = self.canvas.document, self.canvas
        if doc is None:
            return
        start, end = (a[0] - 0.5, a[1] - 0.5), (b[0] - 0.5, b[1] - 0.5)
        if self.segments is None or self.segments.shape != doc.shape:
            doc.paint_line(start, end, c.brush_radius, c.active_label)  # until they are ready
            return
        ids = stroke_segments(self.segments, start, end, c.brush_radius) - self._painted
        found = self.segments.mask_of(ids)
        if found is not None:
            doc.paint_mask(found[0], found[1], c.active_label)
            self._painted |= ids

    # -- take prediction ------------------------------------------------------------------------
    def _take(self, pos: tuple[float, float]) -> None:
        doc, prediction = self.canvas.document, self.canvas.prediction_layer.labels
        if doc is None:
            return
        if prediction is None or prediction.shape != doc.shape:
            self.message.emit("Take prediction: there is no prediction for this image yet.")
            return
        found = prediction_component(prediction, (pos[0] - 0.5, pos[1] - 0.5))
        if found is None:
            self.message.emit("Take prediction: click a predicted region (shown in its "
                              "class colour).")
            return
        region, mask, label = found
        if doc.paint_mask(region, mask, label) is None:
            self.message.emit("Take prediction: that region is already in your labels.")
        else:
            self.message.emit(f"Take prediction: {int(mask.sum())} pixels copied into your "
                              "labels (Ctrl+Z undoes it).")

