"""Review states a user can trust: strokes on predictions, undo/redo of the state, accept of
an unsure prediction, un-review from the list and the canvas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import Questions, drag, make_folder, open_window
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from app.image_list import STATE_ROLE
from app.main_window import MainWindow
from engine.io.images import write_png_atomic
from engine.io.labels import NOT_PAINTED
from engine.io.project import ImageState, Project

SHAPE = (96, 128)


def prediction() -> np.ndarray:
    pred = np.zeros(SHAPE, np.uint8)
    pred[10:40, 10:40] = 1
    return pred


@pytest.fixture()
def questions() -> Questions:
    """The window's Yes/No questions: answered Yes unless a test queues answers."""
    return Questions()


@pytest.fixture()
def window(qtbot: QtBot, tmp_path: Path, questions: Questions) -> MainWindow:
    """img00 and img01 predicted (confidence 0.55 and 0.9), the rest unlabelled."""
    folder = tmp_path / "images"
    make_folder(folder, n=3)
    project = Project.open(folder)
    for name, score in (("img00.png", 0.55), ("img01.png", 0.9)):
        write_png_atomic(project.prediction_path(name), prediction())
        project.record_prediction(name, score)
    project.close()
    return open_window(qtbot, folder, ask=questions)


def badge(window: MainWindow, name: str) -> str:
    model = window.image_panel.model
    return str(model.data(model.index(model.row_of(name)), STATE_ROLE))


def test_stroke_on_a_prediction_says_so_and_undo_restores_it(qtbot: QtBot,
                                                             window: MainWindow) -> None:
    project = window.project
    assert project is not None and window.current is not None
    assert window.current.name == "img00.png"
    assert "Predicted, not reviewed" in window.state_label.text()
    drag(window.canvas, [(80, 70)])
    window.saver.flush()
    assert project.state("img00.png") == ImageState.REVIEWED
    assert badge(window, "img00.png") == "reviewed"
    assert "now reviewed" in window.statusBar().currentMessage()  # said plainly
    assert "Reviewed" in window.state_label.text()
    assert project.load_label("img00.png") is not None

    window.actions_.undo.trigger()  # labels AND state back
    window.saver.flush()
    assert project.state("img00.png") == ImageState.PREDICTED
    assert badge(window, "img00.png") == "predicted"
    assert project.load_label("img00.png") is None
    assert np.array_equal(window.current.document.labels, prediction())  # type: ignore[union-attr]
    assert not window.current.dirty

    window.actions_.redo.trigger()
    window.saver.flush()
    assert project.state("img00.png") == ImageState.REVIEWED
    assert project.load_label("img00.png")[70, 80] == 1  # type: ignore[index]


def test_undo_of_a_later_stroke_keeps_the_state_of_the_one_before(window: MainWindow) -> None:
    project = window.project
    assert project is not None
    window.navigation.show_image("img02.png")  # unlabelled
    drag(window.canvas, [(30, 30)])
    drag(window.canvas, [(60, 60)])
    assert project.state("img02.png") == ImageState.SUPPORT
    assert badge(window, "img02.png") == "support"
    window.actions_.undo.trigger()
    window.saver.flush()
    assert project.state("img02.png") == ImageState.SUPPORT  # the first stroke is still there
    assert project.load_label("img02.png")[60, 60] == NOT_PAINTED  # type: ignore[index]
    window.actions_.undo.trigger()
    window.saver.flush()
    assert project.state("img02.png") == ImageState.UNLABELLED
    assert badge(window, "img02.png") == "unlabelled"
    assert project.load_label("img02.png") is None


def test_accepting_an_unsure_prediction_asks_once(window: MainWindow,
                                                  questions: Questions) -> None:
    project = window.project
    assert project is not None
    questions.answers = [False, True]
    asked = questions.asked
    window.actions_.accept.trigger()  # img00: confidence 0.55 -> asks; "No"
    assert len(asked) == 1 and "55 %" in asked[0]
    assert project.state("img00.png") == ImageState.PREDICTED
    assert window.current is not None and window.current.name == "img00.png"
    window.actions_.accept.trigger()  # "Yes"
    assert project.state("img00.png") == ImageState.REVIEWED
    assert len(asked) == 2
    window.navigation.show_image("img01.png")  # confidence 0.9: no question
    window.actions_.accept.trigger()
    assert project.state("img01.png") == ImageState.REVIEWED and len(asked) == 2
    assert window.review.unreview("img00.png")  # uncorrected: no question either
    window.navigation.show_image("img00.png")
    window.actions_.accept.trigger()  # asked once per image: not again
    assert project.state("img00.png") == ImageState.REVIEWED and len(asked) == 2


def test_unreview_from_the_list_and_the_canvas(qtbot: QtBot, window: MainWindow,
                                               questions: Questions,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    project = window.project
    assert project is not None
    window.navigation.show_image("img01.png")
    window.actions_.accept.trigger()  # reviewed, same labels as the prediction
    window.saver.flush()
    assert project.state("img01.png") == ImageState.REVIEWED
    menu = window.review.menu_for("img01.png")  # the list's context menu
    action = menu.actions()[0]
    assert action.text() == "Mark as not reviewed" and action.isEnabled()
    action.trigger()
    window.saver.flush()
    assert project.state("img01.png") == ImageState.PREDICTED
    assert badge(window, "img01.png") == "predicted"
    assert project.load_label("img01.png") is None
    assert questions.asked == []  # nothing to lose: not asked
    assert not window.review.menu_for("img01.png").actions()[0].isEnabled()

    # The shown image, corrected, from the canvas's context menu: asks, then drops it.
    window.navigation.show_image("img00.png")
    drag(window.canvas, [(80, 70)])
    assert project.state("img00.png") == ImageState.REVIEWED
    shown: list[str | None] = []
    monkeypatch.setattr(window.review, "show_menu", lambda name, pos: shown.append(name))
    window.canvas.customContextMenuRequested.emit(QPoint(5, 5))
    assert shown == ["img00.png"]
    window.review.menu_for("img00.png").actions()[0].trigger()
    window.saver.flush()
    assert len(questions.asked) == 1 and "corrections" in questions.asked[0]
    assert project.state("img00.png") == ImageState.PREDICTED
    assert window.current is not None and not window.current.dirty
    assert np.array_equal(window.current.document.labels, prediction())  # type: ignore[union-attr]


def test_list_context_menu_names_the_image_under_the_mouse(qtbot: QtBot,
                                                           window: MainWindow) -> None:
    names: list[str] = []
    window.image_panel.menu_requested.connect(lambda name, _pos: names.append(name))
    view = window.image_panel.view
    rect = view.visualRect(view.model().index(1, 0))
    view.customContextMenuRequested.emit(rect.center())
    assert names == ["img01.png"]


def test_badges_say_example(window: MainWindow) -> None:
    window.navigation.show_image("img02.png")
    drag(window.canvas, [(30, 30)])
    model = window.image_panel.model
    tip = model.data(model.index(model.row_of("img02.png")), Qt.ItemDataRole.ToolTipRole)
    assert "example" in str(tip) and "support" not in str(tip)
    assert "1 example" in window.image_panel.counts_label.text()
    assert window.image_panel.filter_box.itemText(2) == "Examples"
