"""The canvas: simulated mouse painting, undo/redo, fill, lasso, class switch, zoom."""

from __future__ import annotations

import time

import numpy as np
import pytest
from app_helpers import drag, send_event
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.canvas import MaskCanvas, Tool
from engine.edit.document import MaskDocument
from engine.io.labels import NOT_PAINTED, has_painting


@pytest.fixture()
def canvas(qtbot: QtBot) -> MaskCanvas:
    view = MaskCanvas()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.set_image(np.full((100, 120, 3), 90, np.uint8))
    view.set_document(MaskDocument.unpainted((100, 120)))  # a new image: nothing painted
    view.set_colors({1: (255, 0, 0), 2: (0, 0, 255)})
    view.show()
    qtbot.waitExposed(view)
    view.actual_size()
    view.centerOn(60, 50)
    return view


def _at(view: MaskCanvas, x: float, y: float) -> QPoint:
    return view.mapFromScene(QPointF(x, y))


def test_brush_stroke_paints_and_undo_redo(canvas: MaskCanvas, qtbot: QtBot) -> None:
    canvas.brush_radius = 3
    with qtbot.waitSignal(canvas.stroke_finished):
        drag(canvas, [(20, 20), (40, 20), (60, 20)])
    doc = canvas.document
    assert doc is not None
    assert doc.labels[20, 30] == 1 and doc.labels[20, 59] == 1
    assert doc.labels[50, 50] == NOT_PAINTED
    assert canvas.label_layer._buffer[20, 30, 2] == 255  # red drawn in the overlay buffer
    doc.undo()
    assert not has_painting(doc.labels)
    assert canvas.label_layer._buffer[20, 30, 3] == 0  # unpainted: transparent
    doc.redo()
    assert doc.labels[20, 30] == 1


def test_class_switch_and_eraser(canvas: MaskCanvas, qtbot: QtBot) -> None:
    canvas.brush_radius = 4
    canvas.active_label = 2
    drag(canvas, [(30, 30), (31, 30)])
    assert canvas.document is not None and canvas.document.labels[30, 30] == 2
    canvas.tool = Tool.ERASER
    drag(canvas, [(30, 30)])
    assert canvas.document.labels[30, 30] == NOT_PAINTED  # erased = not painted


def test_fill_and_lasso(canvas: MaskCanvas, qtbot: QtBot) -> None:
    canvas.tool = Tool.LASSO
    with qtbot.waitSignal(canvas.stroke_finished):
        drag(canvas, [(10, 10), (50, 10), (50, 50), (10, 50)])
    doc = canvas.document
    assert doc is not None and doc.labels[30, 30] == 1 and doc.labels[70, 70] == NOT_PAINTED
    canvas.tool = Tool.FILL
    canvas.active_label = 2
    drag(canvas, [(90, 90)])
    assert doc.labels[90, 90] == 2 and doc.labels[30, 30] == 1
    doc.undo()
    assert doc.labels[90, 90] == NOT_PAINTED


def test_middle_drag_pans_without_painting(canvas: MaskCanvas) -> None:
    canvas.zoom_by(4.0)
    before = canvas.horizontalScrollBar().value()
    start = _at(canvas, 60, 50)
    send_event(canvas, QMouseEvent.Type.MouseButtonPress, start, Qt.MouseButton.MiddleButton)
    send_event(canvas, QMouseEvent.Type.MouseMove, start + QPoint(-40, 0),
               Qt.MouseButton.MiddleButton)
    send_event(canvas, QMouseEvent.Type.MouseButtonRelease, start + QPoint(-40, 0),
          Qt.MouseButton.MiddleButton)
    assert canvas.horizontalScrollBar().value() != before
    assert canvas.document is not None and not has_painting(canvas.document.labels)


def test_zoom_fit_and_100(canvas: MaskCanvas, qtbot: QtBot) -> None:
    with qtbot.waitSignal(canvas.zoom_changed):
        canvas.zoom_by(2.0)
    assert canvas.zoom == pytest.approx(2.0)
    canvas.fit()
    assert canvas.zoom > 2.0  # 120 x 100 image in a 400 x 300 view
    canvas.actual_size()
    assert canvas.zoom == pytest.approx(1.0)


def test_prediction_toggle_and_low_confidence(canvas: MaskCanvas) -> None:
    pred = np.zeros((100, 120), np.uint8)
    pred[:50] = 1
    canvas.set_prediction(pred)
    canvas.show_predictions(True)
    assert canvas.prediction_layer.isVisible() and not canvas.label_layer.isVisible()
    conf = np.ones((100, 120), np.float32)
    conf[:10] = 0.2
    canvas.set_confidence(conf, 0.5)
    canvas.show_low_confidence(True)
    assert canvas.confidence_layer.labels is not None
    low = canvas.confidence_layer.labels
    assert low[:10].all() and not low[10:].any()
    drag(canvas, [(5, 95)])  # painting switches back to the human labels
    assert canvas.label_layer.isVisible()


def test_placeholder_for_unreadable_image(canvas: MaskCanvas) -> None:
    canvas.set_document(None)
    canvas.set_image(None, "cannot read broken.png: not an image")
    assert canvas._message_item.isVisible()
    drag(canvas, [(5, 5)])  # no document: nothing happens, no crash


def test_stroke_on_large_image_is_fast(qtbot: QtBot) -> None:
    view = MaskCanvas()
    qtbot.addWidget(view)
    view.set_image(np.zeros((3000, 4000, 3), np.uint8))
    view.set_document(MaskDocument.empty((3000, 4000)))
    view.set_colors({1: (255, 0, 0)})
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    view.actual_size()
    view.centerOn(2000, 1500)
    view.brush_radius = 30
    start = time.perf_counter()
    drag(view, [(1990 + i, 1500) for i in range(0, 40, 4)])
    QApplication.processEvents()
    assert time.perf_counter() - start < 0.3  # well under a frame per move on any machine
    assert view.document is not None and view.document.labels[1500, 2000] == 1


def test_huge_image_is_shown_downsampled_at_full_scene_size(qtbot: QtBot, monkeypatch) -> None:
    import app.canvas as canvas_module

    monkeypatch.setattr(canvas_module, "MAX_DISPLAY_SIDE", 100)
    view = MaskCanvas()
    qtbot.addWidget(view)
    rgb = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    view.set_image(rgb)
    view.set_document(MaskDocument(np.zeros((200, 300), np.uint8)))
    item = view._image_item
    assert item.pixmap().width() == 100 and item.pixmap().height() == 67
    assert item.sceneBoundingRect().width() == pytest.approx(300, abs=1)
    assert view.scene().sceneRect().width() == 300 and view.scene().sceneRect().height() == 200


def test_switching_document_mid_stroke_ends_the_stroke_on_the_old_one(canvas: MaskCanvas
                                                                      ) -> None:
    """Next image (keyboard) while the mouse is still down: the drag must not go on
    painting the new image, and the old image's stroke is one closed undo step."""
    canvas.brush_radius = 2
    old = canvas.document
    assert old is not None
    send_event(canvas, QMouseEvent.Type.MouseButtonPress, _at(canvas, 20, 20))
    send_event(canvas, QMouseEvent.Type.MouseMove, _at(canvas, 40, 20))
    assert canvas.stroke_active
    new = MaskDocument.empty((100, 120))
    canvas.set_document(new)
    assert not canvas.stroke_active
    send_event(canvas, QMouseEvent.Type.MouseMove, _at(canvas, 60, 40))
    send_event(canvas, QMouseEvent.Type.MouseButtonRelease, _at(canvas, 60, 40))
    assert not new.labels.any()  # nothing painted on the new image
    assert old.labels[20, 30] == 1
    old.undo()  # the stroke was closed: one undo removes it all
    assert not has_painting(old.labels)


@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9])
def test_a_click_paints_the_pixel_under_the_cursor(qtbot: QtBot, frac: float) -> None:
    """At high zoom with the smallest brush, a click anywhere inside pixel (10, 12) paints
    that pixel (it painted the right/lower neighbour for clicks in its second half)."""
    view = MaskCanvas()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.set_image(np.full((30, 30, 3), 90, np.uint8))
    doc = MaskDocument.empty((30, 30))
    view.set_document(doc)
    view.show()
    qtbot.waitExposed(view)
    view.zoom_by(16)
    view.centerOn(10.5, 12.5)
    view.brush_radius = 0.5
    drag(view, [(10 + frac, 12 + frac)])
    ys, xs = np.nonzero(doc.labels)
    assert list(zip(ys.tolist(), xs.tolist())) == [(12, 10)]


def test_escape_cancels_the_lasso_not_the_window_shortcut(canvas: MaskCanvas) -> None:
    """Escape is also the window's "cancel job" shortcut.  Qt delivers a shortcut key to the
    focus widget instead when that widget accepts the ShortcutOverride event: the canvas
    must do so while a lasso is drawn (and only then), then cancel the lasso."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent

    def override_accepted() -> bool:
        ev = QKeyEvent(QEvent.Type.ShortcutOverride, Qt.Key.Key_Escape,
                       Qt.KeyboardModifier.NoModifier)
        ev.ignore()
        QApplication.sendEvent(canvas, ev)
        return ev.isAccepted()

    assert not override_accepted()  # no lasso: the window's shortcut gets Escape
    doc = canvas.document
    assert doc is not None
    canvas.tool = Tool.LASSO
    send_event(canvas, QMouseEvent.Type.MouseButtonPress, _at(canvas, 10, 10))
    for x, y in ((50, 10), (50, 50)):
        send_event(canvas, QMouseEvent.Type.MouseMove, _at(canvas, x, y))
    assert override_accepted()
    QApplication.sendEvent(canvas, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Escape,
                                             Qt.KeyboardModifier.NoModifier))
    assert not canvas.stroke_active
    send_event(canvas, QMouseEvent.Type.MouseMove, _at(canvas, 10, 50))  # no new lasso starts
    send_event(canvas, QMouseEvent.Type.MouseButtonRelease, _at(canvas, 10, 50))
    assert not has_painting(doc.labels) and not doc.can_undo
    assert not override_accepted()


def test_overlay_buffer_holds_each_pixels_table_colour(qtbot: QtBot) -> None:
    """The 32-bit lookup writes exactly the table's four bytes per pixel, on a whole map and
    on a changed rectangle, solid and hatched."""
    from app.layers import HATCH, LabelLayer

    rng = np.random.default_rng(0)
    labels = rng.choice(np.array([0, 1, 2, NOT_PAINTED], np.uint8), (37, 53))
    layer = LabelLayer(show_background=True)
    layer.set_colors({1: (255, 0, 0), 2: (10, 200, 30)})
    layer.set_labels(labels)
    table = layer._table
    assert (layer._buffer == table[labels]).all()
    labels[5:20, 7:40] = 2
    layer.update_region((5, 20, 7, 40))
    assert (layer._buffer == table[labels]).all()
    layer.set_hatched(True)
    yy, xx = np.ogrid[:37, :53]
    stripes = ((xx + yy) // HATCH) % 2 == 1
    expected = table[labels].copy()
    expected[stripes] = 0
    assert (layer._buffer == expected).all()
    assert layer._buffer[~stripes & (labels == 2)][:, 1].min() == 200  # green kept off stripes


def test_fill_of_a_part_of_the_map_covers_only_that_part(canvas: MaskCanvas) -> None:
    doc = canvas.document
    assert doc is not None
    doc.paint_mask((0, 100, 60, 61), np.ones((100, 1), bool), 2)  # a wall at x = 60
    region = doc.flood_fill((100, 30), 1)
    assert region == (0, 100, 61, 120)
    assert (doc.labels[:, 61:] == 1).all() and (doc.labels[:, :60] == NOT_PAINTED).all()
    assert (doc.labels[:, 60] == 2).all()
