"""Display contrast (display only), the first window's size and tool bar, shortcuts at once,
brush diameter and eraser size, the model panel's width, reopening at the last image."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from app_helpers import drag, make_folder, open_window
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QApplication, QToolBar
from pytestqt.qtbot import QtBot

from app.canvas import Tool
from app.contrast import auto_limits, contrast_lut
from app.session import Workers
from app.toolbar import initial_size


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    make_folder(tmp_path / "images", n=3)
    return tmp_path / "images"



def test_contrast_is_display_only(qtbot: QtBot, folder: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.png")}
    seen: list[np.ndarray] = []

    def fake_predict(cache: object, model: Path, name: str, image: np.ndarray,
                     *args: object) -> object:
        seen.append(image.copy())
        raise RuntimeError("no model in this test")

    window = open_window(qtbot, folder)
    window.session.workers = Workers(predict=fake_predict)
    cur = window.current
    assert cur is not None and cur.rgb is not None
    rgb = cur.rgb.copy()
    plain = window.canvas.displayed_image().pixelColor(5, 5).red()
    window.contrast.set_limits(20, 80)
    shown = window.canvas.displayed_image().pixelColor(5, 5).red()
    assert shown == contrast_lut(20, 80)[rgb[5, 5, 0]] and shown != plain
    window.contrast.auto.setChecked(True)
    assert window.contrast.limits == auto_limits(rgb)
    window.navigation.step(1)  # Auto follows each image
    assert window.current is not None and window.current.rgb is not None
    assert window.contrast.limits == auto_limits(window.current.rgb)
    window.navigation.step(-1)
    assert np.array_equal(window.current.rgb, rgb)  # the image in memory is untouched
    window.model_controller.project_opened(window.project)  # type: ignore[arg-type]
    window.project.active_model = "m.dfss"  # type: ignore[union-attr]
    (window.project.models_dir / "m.dfss").write_bytes(b"x")  # type: ignore[union-attr]
    window.model_controller.image_shown(window.current)  # what the model is given: the raw pixels
    qtbot.waitUntil(lambda: not window.model_controller.predicting)
    assert seen and np.array_equal(seen[-1], rgb)
    window.contrast.reset.click()
    assert window.contrast.limits == (0, 255) and not window.contrast.auto.isChecked()
    qtbot.waitUntil(lambda: window.canvas.displayed_image().pixelColor(5, 5).red() == plain)
    window.close()
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.png")}
    assert after == before


def test_first_window_size_and_whole_toolbar(qtbot: QtBot, folder: Path) -> None:
    assert initial_size(QSize(1600, 1000), 0.85) == QSize(1360, 850)
    window = open_window(qtbot, folder)
    screen = window.screen().availableGeometry()
    assert (window.width() >= 0.8 * screen.width()
            or window.width() == window.minimumSizeHint().width())
    window.resize(1600, 1000)
    bar = window.findChild(QToolBar, "toolbar_tools")
    qtbot.waitUntil(lambda: bar.width() > 1000)
    a = window.actions_
    for action in (a.fit, a.actual, a.learn, a.auto_label):
        button = bar.widgetForAction(action)
        assert button is not None and button.isVisible()
        assert button.geometry().right() <= bar.width()
    assert bar.sizeHint().width() <= 1600
    window.close()


def test_shortcuts_work_as_soon_as_the_window_shows(qtbot: QtBot, folder: Path) -> None:
    window = open_window(qtbot, folder)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_E)
    assert window.canvas.tool == Tool.ERASER
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_D)  # next image
    assert window.current is not None and window.current.name == "img01.png"
    window.close()


def test_brush_size_is_the_diameter_and_the_eraser_keeps_its_own(qtbot: QtBot,
                                                                 folder: Path) -> None:
    window = open_window(qtbot, folder)
    window.actions_.brush.trigger()
    window.brush_size.setValue(7)
    window.canvas.fit()
    drag(window.canvas, [(50, 50)])
    painted = window.current.document.labels == 1  # type: ignore[union-attr]
    assert painted.sum(axis=1).max() == 7 and painted.sum(axis=0).max() == 7  # 7 pixels across
    window.brush_size.setValue(8)  # even: a disc on a pixel is odd
    assert window.brush_size.value() == 9
    window.actions_.eraser.trigger()
    assert window.brush_size.value() == window.settings.eraser_size == 25
    window.brush_size.setValue(3)
    window.actions_.brush.trigger()
    assert window.brush_size.value() == 9
    window.actions_.eraser.trigger()
    assert window.brush_size.value() == 3
    window.close()


def test_model_panel_keeps_its_width_and_scrolls_the_estimate(qtbot: QtBot,
                                                              folder: Path) -> None:
    window = open_window(qtbot, folder)
    window.resize(1600, 1000)
    dock = window.job_panel.parentWidget()
    qtbot.waitUntil(lambda: dock.width() > 0)
    width = dock.width()
    long = [0.2, 0.1] + [0.9] * 3  # the weak examples are named: long unbreakable words
    names = [f"microscopy_slide_{i:03d}_channel_dapi_field_of_view_0001.tif"
             for i in range(len(long))]
    window.job_panel.set_model("model-20260101-120000.dfss", 0.61, {"a": 0.6, "b": 0.62},
                               long, names)
    QApplication.processEvents()
    assert dock.width() == width
    label = window.job_panel.model_label
    assert label.wordWrap() and label.width() <= dock.width()
    label.setText("a long estimate " * 800)
    QApplication.processEvents()
    assert dock.width() == width
    area = label.parentWidget().parentWidget()  # viewport, then the scroll area
    qtbot.waitUntil(lambda: area.verticalScrollBar().maximum() > 0)  # it scrolls
    window.close()


def test_reopening_a_folder_returns_to_the_last_image(qtbot: QtBot, folder: Path) -> None:
    window = open_window(qtbot, folder)
    window.navigation.show_image("img02.png")
    window.close()
    again = open_window(qtbot, folder)
    assert again.current is not None and again.current.name == "img02.png"
    again.close()


def test_low_confidence_view_says_what_it_shows(qtbot: QtBot, folder: Path) -> None:
    window = open_window(qtbot, folder)
    tip = window.actions_.low_confidence.toolTip()
    assert "below 60 %" in tip and "not marked" in tip
    window.close()
