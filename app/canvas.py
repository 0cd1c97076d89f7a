"""The image canvas: zoom, pan, and mouse tools that edit an engine MaskDocument.

The canvas owns no label state: it maps mouse events to image coordinates and calls
the document (``paint_line`` / ``flood_fill`` / ``fill_polygon``); the document's
change events repaint only the touched rectangle of the overlay.  The smart selection
tools (box, wand, superpixel brush, take prediction) are :mod:`app.smart_tools`.
Painted values follow :mod:`engine.io.labels`: the eraser makes pixels *not painted* (255),
the Background brush paints background (0).
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

# Images longer than this are displayed from a downsampled copy (scaled back up on the
# canvas), so a 12000 x 9000 scan does not need a 400 MB pixmap; labels stay full size.
MAX_DISPLAY_SIDE = 8192

from app.layers import LabelLayer, hatch_table, low_confidence_mask, rgb_to_qimage
from app.smart_tools import SmartTools
from app.tools import BRUSHES, SIZED, SMART, Tool
from engine.edit.document import MaskDocument, Region
from engine.io.labels import BACKGROUND, NOT_PAINTED

__all__ = ["MaskCanvas", "Tool"]


class MaskCanvas(QGraphicsView):
    """Shows an image with its human labels or its prediction and edits the labels."""

    stroke_finished = Signal()        # a stroke changed the document (one undo step)
    zoom_changed = Signal(float)      # view scale, 1.0 = 100 %
    cursor_moved = Signal(int, int, int)  # x, y, label under the cursor (-1 outside)
    predictions_shown = Signal(bool)  # the view switched between prediction and labels

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setBackgroundBrush(QColor(32, 33, 36))
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)  # the window's menu
        self._build_items()
        self.document: MaskDocument | None = None
        self.rgb: np.ndarray | None = None  # the shown image, full size (the smart tools)
        self._tool = Tool.BRUSH
        self.smart = SmartTools(self)
        self.brush_radius = 12
        self.active_label = 1
        self._last: tuple[float, float] | None = None
        self._lasso: list[tuple[float, float]] = []
        self._pan_from: QPointF | None = None
        self._space_down = False
        self._showing_predictions = False
        self._underlay = False  # the prediction striped under the labels (Live mode)
        self._display: np.ndarray | None = None  # the RGB the pixmap is made from
        self._contrast = (0, 255)

    def _build_items(self) -> None:
        scene = self.scene()
        self._image_item = QGraphicsPixmapItem()
        self._image_item.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self.label_layer = LabelLayer(show_background=True)
        self.prediction_layer = LabelLayer()
        self.confidence_layer = LabelLayer()
        self.confidence_layer.set_table(hatch_table())
        self._cursor_item = QGraphicsEllipseItem()
        self._cursor_item.setPen(QPen(QColor(255, 255, 255, 220), 0))
        self._lasso_item = QGraphicsPathItem()
        self._lasso_item.setPen(QPen(QColor(255, 255, 0), 0, Qt.PenStyle.DashLine))
        self._message_item = QGraphicsSimpleTextItem()
        self._message_item.setBrush(QBrush(QColor(230, 230, 230)))
        for z, item in enumerate((self._image_item, self.prediction_layer, self.label_layer,
                                  self.confidence_layer, self._lasso_item, self._cursor_item,
                                  self._message_item)):
            item.setZValue(z)
            scene.addItem(item)
        self.prediction_layer.setVisible(False)
        self.confidence_layer.setVisible(False)

    # -- content ---------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray | None, message: str = "") -> None:
        """Show ``rgb`` ((H, W, 3) uint8); None shows ``message`` as a placeholder."""
        self.rgb = rgb
        self.smart.image_changed()
        if rgb is None:
            self._display = None
            self._image_item.setPixmap(QPixmap())
            self._message_item.setText(message)
            self._message_item.setVisible(True)
            self.scene().setSceneRect(self._message_item.boundingRect().adjusted(-40, -40, 40, 40))
            self.resetTransform()
            return
        self._message_item.setVisible(False)
        h, w = rgb.shape[:2]
        shown, scale = rgb, 1.0
        if max(h, w) > MAX_DISPLAY_SIDE:
            import cv2  # only for huge images

            scale = max(h, w) / MAX_DISPLAY_SIDE
            size = (max(1, round(w / scale)), max(1, round(h / scale)))
            shown = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        self._display = shown
        self._refresh_pixmap()
        self._image_item.setScale(w / shown.shape[1])
        self.scene().setSceneRect(QRectF(0, 0, w, h))

    def set_contrast(self, low: int, high: int) -> None:
        """Show grey values ``low..high`` over the full range (display only: the image
        arrays and files are untouched)."""
        if (low, high) != self._contrast:
            self._contrast = (int(low), int(high))
            self._refresh_pixmap()

    def _refresh_pixmap(self) -> None:
        if self._display is None:
            return
        shown = self._display
        if self._contrast != (0, 255):
            from app.contrast import contrast_lut

            shown = contrast_lut(*self._contrast)[shown]  # a new array: the image stays
        self._image_item.setPixmap(QPixmap.fromImage(rgb_to_qimage(shown)))

    def displayed_image(self) -> QImage:
        """The picture on screen (with the contrast applied), for tests and checks."""
        return self._image_item.pixmap().toImage()

    def set_document(self, document: MaskDocument | None) -> None:
        """Edit and show ``document`` (the human labels of the current image).

        A stroke in progress (the mouse still down) ends on the document it began on."""
        if self.document is not None:
            if self.stroke_active:
                self._last = None
                self._cancel_lasso()
                self.smart.cancel()
                self.document.end_stroke()
            self.document.remove_listener(self._on_document_changed)
        self.document = document
        self.label_layer.set_labels(None if document is None else document.labels)
        if document is not None:
            document.add_listener(self._on_document_changed)

    @property
    def stroke_active(self) -> bool:
        """True between the press and the release of a painting tool."""
        return self._last is not None or bool(self._lasso)

    def set_prediction(self, labels: np.ndarray | None) -> None:
        """The model's label map for this image (read-only), or None."""
        self.prediction_layer.set_labels(labels)

    def set_confidence(self, confidence: np.ndarray | None, threshold: float) -> None:
        """Mark pixels whose confidence is below ``threshold``; None clears it."""
        mask = None if confidence is None else low_confidence_mask(confidence, threshold)
        self.confidence_layer.set_labels(mask)

    def set_colors(self, colors: dict[int, tuple[int, int, int]]) -> None:
        """Class id -> RGB for both label layers."""
        self.label_layer.set_colors(colors)
        self.prediction_layer.set_colors(colors)

    def set_opacity(self, opacity: float) -> None:
        """Overlay opacity in 0..1."""
        self.label_layer.setOpacity(opacity)
        self.prediction_layer.setOpacity(opacity)

    def show_predictions(self, on: bool) -> None:
        """Show the prediction (True) or the editable human labels (False)."""
        changed = on != self._showing_predictions
        self._showing_predictions = on
        self._update_layers()
        if changed:
            self.predictions_shown.emit(on)

    def set_prediction_underlay(self, on: bool) -> None:
        """Show the prediction striped under the labels with every tool (the Live mode: the
        overlay follows the strokes)."""
        self._underlay = on
        self._update_layers()

    def _update_layers(self) -> None:
        # Take prediction (and Live) show the prediction under the labels: its regions are
        # what to click, or where the model is wrong.
        on = self._showing_predictions
        under = self._tool == Tool.TAKE or self._underlay
        self.prediction_layer.set_hatched(under and not on)  # striped: not labels, a suggestion
        self.prediction_layer.setVisible(on or under)
        self.label_layer.setVisible(not on)

    @property
    def tool(self) -> Tool:
        """What the left mouse button does."""
        return self._tool

    @tool.setter
    def tool(self, tool: Tool) -> None:
        self._tool = Tool(tool)
        self._update_layers()
        self._reset_cursor()
        if self._tool not in SIZED:
            self._cursor_item.setVisible(False)  # the brush circle, until the mouse moves
        self.smart.tool_changed()

    def _reset_cursor(self) -> None:
        if self._tool in (Tool.BOX, Tool.WAND, Tool.TAKE, Tool.FILL):
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.viewport().unsetCursor()

    def apply_selection(self, document: MaskDocument, region: Region, mask: np.ndarray,
                        label: int) -> bool:
        """Paint a selection computed in the background (GrabCut) as one undo step, when
        ``document`` is still the one shown; True when it changed the labels."""
        if document is not self.document or document.in_stroke:
            return False
        if document.paint_mask(region, mask, label) is None:
            return False
        self.stroke_finished.emit()
        return True

    def show_low_confidence(self, on: bool) -> None:
        """Toggle the low-confidence marking."""
        self.confidence_layer.setVisible(on)

    def _on_document_changed(self, region: Region) -> None:
        self.label_layer.update_region(region)

    # -- zoom ----------------------------------------------------------------------------
    def fit(self) -> None:
        """Fit the whole image in the view."""
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom)

    def actual_size(self) -> None:
        """Show the image at 100 % (one image pixel per screen pixel)."""
        self.setTransform(QTransform())
        self.zoom_changed.emit(self.zoom)

    def zoom_by(self, factor: float) -> None:
        """Zoom in (factor > 1) or out, keeping the point under the mouse in place."""
        new = min(64.0, max(0.02, self.zoom * factor))
        self.scale(new / self.zoom, new / self.zoom)
        self.zoom_changed.emit(self.zoom)

    @property
    def zoom(self) -> float:
        """Current scale (1.0 = 100 %)."""
        return float(self.transform().m11())

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if steps and self._tool == Tool.WAND and not ctrl:
            self.smart.wheel(steps)  # the wand's tolerance; Ctrl+wheel still zooms
        elif steps:
            self.zoom_by(1.25 ** steps)
        event.accept()

    # -- mouse ---------------------------------------------------------------------------------
    def image_pos(self, event: QMouseEvent) -> tuple[float, float]:
        """Image coordinates (x, y) in pixels of a mouse event."""
        p = self.mapToScene(event.position().toPoint())
        return p.x(), p.y()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
                button == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        elif button == Qt.MouseButton.LeftButton and self.document is not None:
            self._begin_tool(self.image_pos(event))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = self.image_pos(event)
        self._move_cursor(pos)
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            hbar, vbar = self.horizontalScrollBar(), self.verticalScrollBar()
            hbar.setValue(hbar.value() - int(delta.x()))
            vbar.setValue(vbar.value() - int(delta.y()))
        elif self._last is not None:
            self._continue_tool(pos)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (
                Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self._reset_cursor()
        elif event.button() == Qt.MouseButton.LeftButton and self._last is not None:
            self._finish_tool(self.image_pos(event))
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if event.key() == Qt.Key.Key_Escape and (self._lasso or self.smart.dragging):
            self._cancel_lasso()
            self.smart.cancel()
            self._last = None  # the drag does not start a new lasso
            if self.document is not None:
                self.document.end_stroke()  # nothing was painted: no undo step
            return
        super().keyPressEvent(event)

    def event(self, event: QEvent) -> bool:
        # Escape is also the window's "cancel job" shortcut: while a lasso is being drawn it
        # belongs to the canvas (cancels the lasso), not to the running job.
        if (event.type() == QEvent.Type.ShortcutOverride and (self._lasso or self.smart.dragging)
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape):
            event.accept()
            return True
        return super().event(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self._reset_cursor()
            return
        super().keyReleaseEvent(event)

    # -- tools (a stroke = press ... release = one undo step) -------------------------------
    def _label_for_tool(self) -> int:
        if self._tool == Tool.ERASER:
            return NOT_PAINTED
        return BACKGROUND if self._tool == Tool.BACKGROUND else self.active_label

    def _begin_tool(self, pos: tuple[float, float]) -> None:
        if self._showing_predictions:
            self.show_predictions(False)  # editing always happens on the human labels
        doc = self.document
        if doc is None:
            return
        doc.begin_stroke()
        self._last = pos
        if self._tool in BRUSHES:
            doc.paint_line(_centre(pos), _centre(pos), self.brush_radius, self._label_for_tool())
        elif self._tool == Tool.FILL:
            doc.flood_fill(_centre(pos), self.active_label)
        elif self._tool == Tool.LASSO:
            self._lasso = [pos]
        elif self._tool in SMART:
            self.smart.press(pos)

    def _continue_tool(self, pos: tuple[float, float]) -> None:
        doc, last = self.document, self._last
        if doc is None or last is None:
            return
        if self._tool in BRUSHES:
            doc.paint_line(_centre(last), _centre(pos), self.brush_radius,
                           self._label_for_tool())
        elif self._tool == Tool.LASSO:
            self._lasso.append(pos)
            self._draw_lasso()
        elif self._tool in SMART:
            self.smart.move(last, pos)
        self._last = pos

    def _finish_tool(self, pos: tuple[float, float]) -> None:
        doc = self.document
        self._last = None
        if doc is None:
            return
        if self._tool == Tool.LASSO:
            self._lasso.append(pos)
            doc.fill_polygon([_centre(p) for p in self._lasso], self.active_label)
            self._cancel_lasso()
        elif self._tool in SMART:
            self.smart.release(pos)
        if doc.end_stroke():
            self.stroke_finished.emit()

    def _cancel_lasso(self) -> None:
        self._lasso = []
        self._lasso_item.setPath(QPainterPath())

    def _draw_lasso(self) -> None:
        path = QPainterPath(QPointF(*self._lasso[0]))
        for x, y in self._lasso[1:]:
            path.lineTo(x, y)
        self._lasso_item.setPath(path)

    def _move_cursor(self, pos: tuple[float, float]) -> None:
        r = self.brush_radius + 0.5  # the document paints 2 r + 1 pixels across
        show = self._tool in SIZED and self.document is not None
        self._cursor_item.setVisible(show)
        if show:
            self._cursor_item.setRect(QRectF(pos[0] - r, pos[1] - r, 2 * r, 2 * r))
        x, y = math.floor(pos[0]), math.floor(pos[1])  # pixel i spans [i, i + 1)
        label = -1
        if self.document is not None:
            h, w = self.document.shape
            if 0 <= x < w and 0 <= y < h:
                label = int(self.document.labels[y, x])
        self.cursor_moved.emit(x, y, label)


def _centre(pos: tuple[float, float]) -> tuple[float, float]:
    """Scene point -> document coordinates.  In the scene pixel ``i`` spans ``[i, i + 1)``;
    the document's coordinates put pixel centres on integers (it rounds), so a click
    anywhere inside a pixel paints that pixel, not its right or lower neighbour."""
    return pos[0] - 0.5, pos[1] - 0.5
