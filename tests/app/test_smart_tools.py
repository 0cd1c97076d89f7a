"""Sparse labels in the app and the smart selection tools (Box, Wand, Superpixel brush,
Take prediction), each one undo step."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from app_helpers import drag, make_folder, open_window, send_event
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QToolBar
from pytestqt.qtbot import QtBot

import app.smart_tools
from app.canvas import MaskCanvas, Tool
from app.main_window import MainWindow
from app.thumbs import shrink_labels, thumbnail_job, tint
from engine.edit.document import MaskDocument
from engine.io.images import read_mask, write_png_atomic
from engine.io.labels import NOT_PAINTED, has_painting
from engine.io.project import ImageState, Project


def _disc_image(h: int = 120, w: int = 160, cy: int = 60, cx: int = 80,
                r: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.ogrid[:h, :w]
    truth = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    img = rng.normal(50, 10, (h, w, 3))
    img[truth] = rng.normal((210, 170, 90), 12, (int(truth.sum()), 3))
    return np.clip(img, 0, 255).astype(np.uint8), truth


@pytest.fixture()
def canvas(qtbot: QtBot) -> MaskCanvas:
    view = MaskCanvas()
    qtbot.addWidget(view)
    view.resize(500, 400)
    rgb, _ = _disc_image()
    view.set_image(rgb)
    view.set_document(MaskDocument.unpainted(rgb.shape[:2]))
    view.set_colors({1: (255, 0, 0), 2: (0, 0, 255)})
    view.show()
    qtbot.waitExposed(view)
    view.actual_size()
    view.centerOn(80, 60)
    yield view
    view.smart.shutdown()


def _wheel(view: MaskCanvas, steps: int, modifiers: Any = Qt.KeyboardModifier.NoModifier
           ) -> None:
    pos = QPointF(view.mapFromScene(QPointF(80, 60)))
    event = QWheelEvent(pos, QPointF(view.viewport().mapToGlobal(pos.toPoint())), QPoint(),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton, modifiers,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def _undo_steps(doc: MaskDocument) -> int:
    return len(doc._undo)


# -- sparse labels --------------------------------------------------------------------------
def test_background_brush_paints_0_eraser_255_new_image_255(qtbot: QtBot,
                                                           tmp_path: Path) -> None:
    folder = tmp_path / "images"
    make_folder(folder, n=2)
    window = open_window(qtbot, folder)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
    doc = window.current.document  # type: ignore[union-attr]
    assert doc is not None and (doc.labels == NOT_PAINTED).all()  # a new image: unpainted
    window.brush_size.setValue(5)
    qtbot.keyClick(window.canvas, Qt.Key.Key_G)  # the Background brush's own key
    assert window.canvas.tool == Tool.BACKGROUND
    assert window.classes_panel.background_button.isChecked()
    drag(window.canvas, [(20, 20), (40, 20)])
    assert doc.labels[20, 30] == 0 and doc.labels[60, 60] == NOT_PAINTED
    project = window.project
    assert project is not None and project.state("img00.png") == ImageState.SUPPORT
    qtbot.keyClick(window.canvas, Qt.Key.Key_E)
    window.brush_size.setValue(15)
    drag(window.canvas, [(20, 20), (40, 20)])  # erases the whole stroke
    assert not has_painting(doc.labels)
    window.saver.flush()
    # painted, then fully erased: not an example any more, no label file
    assert project.state("img00.png") == ImageState.UNLABELLED
    assert not project.label_path("img00.png").exists()
    window.close()


def test_picking_a_class_leaves_the_background_brush(qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    make_folder(folder, n=1)
    window = open_window(qtbot, folder)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
    window.classes_panel.add_class("second")
    window.classes_panel.background_button.click()
    assert window.canvas.tool == Tool.BACKGROUND
    qtbot.keyClick(window.canvas, Qt.Key.Key_2)
    assert window.canvas.tool == Tool.BRUSH and window.canvas.active_label == 2
    assert not window.classes_panel.background_button.isChecked()
    assert "Background brush" in window.classes_panel.help.text()
    window.close()


def test_overlay_unpainted_is_clear_background_is_a_veil(canvas: MaskCanvas) -> None:
    doc = canvas.document
    assert doc is not None
    doc.paint((20, 20), 3, 0)
    doc.paint((60, 20), 3, 1)
    buf = canvas.label_layer._buffer
    assert buf[50, 100, 3] == 0            # not painted: transparent
    assert 0 < buf[20, 20, 3] < 255        # background: translucent
    assert buf[20, 60, 3] == 255 and buf[20, 60, 2] == 255  # class 1: red
    canvas.set_prediction(np.zeros(doc.shape, np.uint8))
    assert canvas.prediction_layer._buffer[20, 20, 3] == 0  # predicted background: clear


def test_thumbnails_show_unpainted_and_background_as_nothing(tmp_path: Path) -> None:
    labels = np.full((40, 40), NOT_PAINTED, np.uint8)
    labels[:10] = 0
    labels[20:30, 20:30] = 1
    write_png_atomic(tmp_path / "labels.png", labels, [(0, 0, 0), (255, 0, 0)])
    image = np.full((40, 40, 3), 100, np.uint8)
    write_png_atomic(tmp_path / "image.png", image)
    (_, thumb, small, error), = thumbnail_job(
        [("image.png", tmp_path / "image.png", tmp_path / "labels.png", tmp_path / "none.png")])
    assert error == "" and small is not None
    assert np.array_equal(small, shrink_labels(labels, small.shape))  # read raw, not binarised
    tinted = tint(thumb, small, {1: (255, 0, 0)})
    assert np.array_equal(tinted[5, 5], thumb[5, 5])      # background: untinted
    assert np.array_equal(tinted[35, 5], thumb[35, 5])    # not painted: untinted
    assert tinted[25, 25, 0] > thumb[25, 25, 0]           # the class: red


# -- the learn job reads project label files raw --------------------------------------------
def _project_with(tmp_path: Path, labels: np.ndarray) -> Project:
    folder = tmp_path / "images"
    folder.mkdir()
    write_png_atomic(folder / "a.png", np.full((*labels.shape, 3), 80, np.uint8))
    project = Project.open(folder)
    project.add_class("object")
    project.save_label("a.png", labels)
    return project


def _masks_given_to_learning(project: Project, monkeypatch: pytest.MonkeyPatch
                             ) -> list[np.ndarray]:
    import sys
    import types

    from app.jobs import LearnRequest, learn_job

    seen: list[np.ndarray] = []

    class Stop(Exception):
        pass

    def fake_learn(images: list, masks: list, classes: list, config: Any) -> Any:
        seen.extend(masks)
        raise Stop
        yield  # a generator, as engine.learning.train.learn

    fake = types.ModuleType("engine.learning.train")
    fake.learn = fake_learn  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "engine.learning.train", fake)
    request = LearnRequest([(project.image_path("a.png"), project.label_path("a.png"))],
                           [(1, "object", (255, 0, 0))], project.models_dir)
    with pytest.raises(Stop):
        list(learn_job(request))
    return seen


def test_an_old_complete_mask_reaches_learning_as_before(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    labels = np.zeros((30, 40), np.uint8)
    labels[5:20, 10:30] = 1
    project = _project_with(tmp_path, labels)
    before = read_mask(project.label_path("a.png"))  # how the learn job read it before
    (mask,) = _masks_given_to_learning(project, monkeypatch)
    assert np.array_equal(mask, before) and np.array_equal(mask, labels)


def test_a_scribbled_image_reaches_learning_with_unpainted_pixels(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    labels = np.full((30, 40), NOT_PAINTED, np.uint8)
    labels[10, 5:35] = 1     # a class stroke
    labels[25, 5:35] = 0     # a background stroke
    project = _project_with(tmp_path, labels)
    (mask,) = _masks_given_to_learning(project, monkeypatch)
    assert np.array_equal(mask, labels)  # 255 where nothing was painted
    # class strokes only: a complete example (unpainted = background), as before
    only_class = np.where(labels == 0, NOT_PAINTED, labels).astype(np.uint8)
    project.save_label("a.png", only_class)
    (mask,) = _masks_given_to_learning(project, monkeypatch)
    assert set(np.unique(mask).tolist()) == {0, 1}


# -- Box (GrabCut) ----------------------------------------------------------------------------
def test_box_fills_the_object_as_one_undo_step(canvas: MaskCanvas, qtbot: QtBot) -> None:
    _, truth = _disc_image()
    canvas.tool = Tool.BOX
    doc = canvas.document
    assert doc is not None
    with qtbot.waitSignal(canvas.stroke_finished, timeout=10_000):
        drag(canvas, [(42, 22), (80, 60), (118, 98)])
    got = doc.labels == 1
    assert (got & truth).sum() / (got | truth).sum() > 0.9
    assert (doc.labels[~got] == NOT_PAINTED).all()  # nothing else was painted
    assert _undo_steps(doc) == 1
    doc.undo()
    assert not has_painting(doc.labels)


def test_box_result_for_another_image_is_dropped(canvas: MaskCanvas, qtbot: QtBot) -> None:
    canvas.tool = Tool.BOX
    old = canvas.document
    job_started = canvas.smart._grabcut is None
    drag(canvas, [(42, 22), (118, 98)])
    assert job_started and canvas.smart._grabcut is not None
    new = MaskDocument.unpainted(old.shape)  # type: ignore[union-attr]
    canvas.set_document(new)
    qtbot.waitUntil(lambda: canvas.smart._grabcut is None, timeout=10_000)
    QApplication.processEvents()
    assert not has_painting(new.labels) and not has_painting(old.labels)  # type: ignore[union-attr]


# -- Wand ----------------------------------------------------------------------------------------
def test_wand_tolerance_by_wheel_and_drag(canvas: MaskCanvas) -> None:
    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[:, :60] = 100
    rgb[:, 60:110] = 125   # a soft edge (25 grey levels) at x = 60
    rgb[:, 110:] = 250     # a strong edge at x = 110
    canvas.set_image(rgb)
    doc = canvas.document
    assert doc is not None
    canvas.tool = Tool.WAND
    messages: list[str] = []
    canvas.smart.message.connect(messages.append)
    canvas.smart.tolerance = 10
    drag(canvas, [(20, 20)])
    assert (doc.labels[:, :60] == 1).all() and (doc.labels[:, 60:] == NOT_PAINTED).all()
    assert _undo_steps(doc) == 1
    doc.undo()
    zoom = canvas.zoom
    _wheel(canvas, 6)  # +24: crosses the soft edge, not the strong one
    assert canvas.smart.tolerance == 34 and canvas.zoom == zoom  # the wheel did not zoom
    assert "tolerance 34" in messages[-1]
    drag(canvas, [(20, 20)])
    assert (doc.labels[:, :110] == 1).all() and (doc.labels[:, 110:] == NOT_PAINTED).all()
    doc.undo()
    # a drag to the left lowers the tolerance; only the release paints (one step)
    canvas.smart.tolerance = 34
    drag(canvas, [(80, 20), (60, 20), (20, 20)])
    assert canvas.smart.tolerance < 25
    assert (doc.labels[:, 60:110] == 1).all() and (doc.labels[:, :60] == NOT_PAINTED).all()
    assert _undo_steps(doc) == 1
    _wheel(canvas, 1, Qt.KeyboardModifier.ControlModifier)
    assert canvas.zoom > zoom  # Ctrl+wheel still zooms


def test_escape_cancels_a_wand_drag(canvas: MaskCanvas) -> None:
    from PySide6.QtGui import QKeyEvent

    canvas.tool = Tool.WAND
    doc = canvas.document
    assert doc is not None
    send_event(canvas, QMouseEvent.Type.MouseButtonPress, canvas.mapFromScene(QPointF(20, 20)))
    assert canvas.smart._preview.isVisible()
    QApplication.sendEvent(canvas, QKeyEvent(QKeyEvent.Type.KeyPress, Qt.Key.Key_Escape,
                                             Qt.KeyboardModifier.NoModifier))
    send_event(canvas, QMouseEvent.Type.MouseButtonRelease, canvas.mapFromScene(QPointF(20, 20)))
    assert not has_painting(doc.labels) and not doc.can_undo
    assert not canvas.smart._preview.isVisible()


# -- Superpixel brush ---------------------------------------------------------------------
def test_superpixel_stroke_covers_whole_segments(canvas: MaskCanvas, qtbot: QtBot) -> None:
    canvas.tool = Tool.SUPERPIXEL
    qtbot.waitUntil(lambda: canvas.smart.segments is not None, timeout=10_000)
    seg = canvas.smart.segments
    assert seg is not None
    doc = canvas.document
    assert doc is not None
    canvas.brush_radius = 1
    drag(canvas, [(30, 60), (80, 60), (130, 60)])
    full = seg.full((0, 120, 0, 160))
    painted = doc.labels == 1
    touched = np.unique(full[painted])
    assert len(touched) >= 3
    assert np.array_equal(painted, np.isin(full, touched))  # whole segments, nothing else
    assert painted[60, 30:131].all()
    assert _undo_steps(doc) == 1


def test_superpixel_brush_paints_like_the_brush_until_ready(canvas: MaskCanvas, qtbot: QtBot,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    release = threading.Event()
    real = app.smart_tools.slic_segments

    def slow_slic(rgb: np.ndarray) -> Any:
        release.wait(10)
        return real(rgb)

    monkeypatch.setattr(app.smart_tools, "slic_segments", slow_slic)
    messages: list[str] = []
    canvas.smart.message.connect(messages.append)
    try:
        canvas.tool = Tool.SUPERPIXEL
        assert messages and "Computing superpixels" in messages[-1]
        doc = canvas.document
        assert doc is not None
        canvas.brush_radius = 2
        drag(canvas, [(30, 60)])
        brush = MaskDocument.unpainted(doc.shape)
        brush.paint((29.5, 59.5), 2, 1)  # what the brush paints there
        assert np.array_equal(doc.labels, brush.labels)
    finally:
        release.set()
    qtbot.waitUntil(lambda: canvas.smart.segments is not None, timeout=10_000)
    assert "ready" in messages[-1]


# -- Take prediction ----------------------------------------------------------------------------
def test_take_prediction_copies_exactly_one_component(canvas: MaskCanvas) -> None:
    pred = np.zeros((120, 160), np.uint8)
    pred[10:30, 10:30] = 1
    pred[60:90, 100:140] = 1  # another component of the same class
    pred[50:55, 20:60] = 2
    pred.flags.writeable = False  # as the project's prediction files are read
    canvas.set_prediction(pred)
    canvas.tool = Tool.TAKE
    assert canvas.prediction_layer.isVisible() and canvas.label_layer.isVisible()
    stripes = canvas.prediction_layer._buffer[10:30, 10:30, 3]  # hatched: not the labels
    assert stripes.max() == 255 and stripes.min() == 0
    doc = canvas.document
    assert doc is not None
    drag(canvas, [(20, 20)])
    expected = np.full(pred.shape, NOT_PAINTED, np.uint8)
    expected[10:30, 10:30] = 1
    assert np.array_equal(doc.labels, expected)
    drag(canvas, [(30, 52)])
    expected[50:55, 20:60] = 2
    assert np.array_equal(doc.labels, expected)
    assert _undo_steps(doc) == 2
    drag(canvas, [(5, 110)])  # on predicted background: nothing
    assert _undo_steps(doc) == 2
    canvas.tool = Tool.BRUSH
    assert not canvas.prediction_layer.isVisible()
    canvas.show_predictions(True)  # Show prediction: solid, as before
    assert canvas.prediction_layer._buffer[10:30, 10:30, 3].min() == 255


# -- the window: shortcuts, toolbar --------------------------------------------------------------
def test_tools_have_keys_and_toolbar_buttons(qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    make_folder(folder, n=1)
    window: MainWindow = open_window(qtbot, folder)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
    bar = window.findChild(QToolBar, "toolbar_tools")
    for key, tool in ((Qt.Key.Key_X, Tool.BOX), (Qt.Key.Key_W, Tool.WAND),
                      (Qt.Key.Key_U, Tool.SUPERPIXEL), (Qt.Key.Key_T, Tool.TAKE),
                      (Qt.Key.Key_G, Tool.BACKGROUND), (Qt.Key.Key_B, Tool.BRUSH)):
        qtbot.keyClick(window.canvas, key)
        assert window.canvas.tool == tool
        action = getattr(window.actions_, tool.value)
        assert action.isChecked() and bar.widgetForAction(action) is not None
    qtbot.waitUntil(lambda: not window.canvas.smart.busy, timeout=10_000)
    window.close()


def test_deleting_a_class_keeps_unpainted_and_background(qtbot: QtBot, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    folder = tmp_path / "images"
    make_folder(folder, n=1)
    window = open_window(qtbot, folder)
    panel = window.classes_panel
    panel.add_class("second")
    window.brush_size.setValue(5)
    panel.select_class(1)
    drag(window.canvas, [(20, 20), (40, 20)])
    panel.select_class(2)
    drag(window.canvas, [(20, 50), (40, 50)])
    window.actions_.background.trigger()
    drag(window.canvas, [(20, 80), (40, 80)])
    panel.select_class(1)
    panel.delete_current(confirm=False)  # a job: the image comes back after it
    qtbot.waitUntil(lambda: not window.deletion.running and window.current is not None)
    labels = window.current.document.labels  # type: ignore[union-attr]
    assert labels[20, 30] == 0     # the deleted class became background
    assert labels[50, 30] == 1     # class 2 moved down to 1
    assert labels[80, 30] == 0     # painted background stays
    assert labels[70, 100] == NOT_PAINTED  # unpainted stays unpainted
    window.close()
