"""The main window without a model: painting, autosave, reopen, list, classes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from app_helpers import Questions, drag, make_folder, new_window, open_window
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.settings import load_settings
from engine.io.labels import NOT_PAINTED
from engine.io.project import ImageState


def close_window(qtbot: QtBot, window: MainWindow) -> None:
    window.close()
    qtbot.waitUntil(lambda: not window.thumbs.running)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    make_folder(tmp_path / "images", n=4)
    return tmp_path / "images"


def test_paint_autosave_on_switch_and_reopen(qtbot: QtBot, folder: Path) -> None:
    window = open_window(qtbot, folder)
    assert window.current is not None and window.current.name == "img00.png"
    window.brush_size.setValue(5)
    drag(window.canvas, [(20, 20), (40, 30), (60, 40)])
    painted = np.array(window.current.document.labels)  # type: ignore[union-attr]
    assert painted.any()
    assert window.project is not None
    assert window.project.state("img00.png") == ImageState.SUPPORT  # saved per stroke
    window.actions_.next_image.trigger()
    assert window.current.name == "img01.png"
    close_window(qtbot, window)

    again = open_window(qtbot, folder)
    assert again.project is not None
    assert again.project.state("img00.png") == ImageState.SUPPORT
    assert np.array_equal(again.project.load_label("img00.png"), painted)
    assert again.current is not None and again.current.name == "img01.png"  # the last one shown
    again.navigation.show_image("img00.png")
    assert np.array_equal(again.current.document.labels, painted)  # type: ignore[union-attr]
    close_window(qtbot, again)


def test_timer_autosave_and_undo_actions(qtbot: QtBot, folder: Path) -> None:
    window = open_window(qtbot, folder)
    drag(window.canvas, [(30, 30)])
    doc = window.current.document  # type: ignore[union-attr]
    assert doc is not None and doc.labels[30, 30] == 1
    window.actions_.undo.trigger()
    assert doc.labels[30, 30] == NOT_PAINTED  # back to nothing painted
    window.actions_.redo.trigger()
    assert doc.labels[30, 30] == 1
    window.saver.flush()
    assert window.project is not None
    assert window.project.load_label("img00.png")[30, 30] == 1  # type: ignore[index]
    close_window(qtbot, window)


def test_undoing_every_stroke_on_an_unlabelled_image_unmakes_the_example(
        qtbot: QtBot, folder: Path) -> None:
    window = open_window(qtbot, folder)
    project = window.project
    assert project is not None
    drag(window.canvas, [(30, 30), (40, 40)])  # saved per stroke: the image is an example
    window.saver.flush()
    assert project.state("img00.png") == ImageState.SUPPORT
    assert project.load_label("img00.png") is not None
    window.actions_.undo.trigger()
    window.session.save_current()
    window.saver.flush()
    assert project.state("img00.png") == ImageState.UNLABELLED
    assert project.load_label("img00.png") is None  # no empty example left for Learn
    assert "0 examples" in window.image_panel.counts_label.text()
    close_window(qtbot, window)


def test_list_counts_filter_and_navigation(qtbot: QtBot, folder: Path) -> None:
    window = open_window(qtbot, folder)
    panel = window.image_panel
    qtbot.waitUntil(lambda: panel.model.thumb_shape("img03.png") is not None)
    drag(window.canvas, [(30, 30)])
    assert "1 example" in panel.counts_label.text()
    assert "3 unlabelled" in panel.counts_label.text()
    panel.filter_box.setCurrentIndex(panel.filter_box.findData("support"))
    assert panel.view.model().rowCount() == 1
    panel.filter_box.setCurrentIndex(0)
    window.actions_.next_image.trigger()
    window.actions_.next_image.trigger()
    assert window.current is not None and window.current.name == "img02.png"
    window.actions_.previous_image.trigger()
    assert window.current.name == "img01.png"
    # the painted image's thumbnail is tinted with its label
    row = panel.model.row_of("img00.png")
    assert panel.model._entries[row].overlay is not None
    close_window(qtbot, window)


def test_classes_add_rename_recolor_delete(qtbot: QtBot, folder: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    window = open_window(qtbot, folder)
    panel, project = window.classes_panel, window.project
    assert project is not None and [c.name for c in project.classes] == ["object"]
    panel.add_class("debris")
    assert window.canvas.active_label == 2
    drag(window.canvas, [(50, 50)])
    assert window.current.document.labels[50, 50] == 2  # type: ignore[union-attr]
    panel.rename_current("dust")
    panel.recolor_current((1, 2, 250))
    assert project.class_by_id(2).name == "dust"
    assert tuple(window.canvas.label_layer._table[2][:3]) == (250, 2, 1)  # BGRA
    panel.select_class(1)
    assert window.canvas.active_label == 1
    panel.select_class(2)
    from PySide6.QtWidgets import QMessageBox

    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: told.append(a[2]))
    project.active_model = "learned-with-two-classes.dfss"
    panel.delete_current(confirm=False)  # a job: wait for it
    qtbot.waitUntil(lambda: not window.deletion.running)
    assert [c.name for c in project.classes] == ["object"]
    assert window.current.document.labels[50, 50] == 0  # type: ignore[union-attr]
    assert project.active_model is None and told  # its class ids are stale: not used
    close_window(qtbot, window)


def test_class_edits_that_cannot_be_saved_get_a_message(qtbot: QtBot, folder: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    import engine.io.project as project_module

    window = open_window(qtbot, folder)
    panel, project = window.classes_panel, window.project
    assert project is not None
    panel.add_class("debris")
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))

    def full(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project_module, "atomic_write", full)  # project.json cannot be saved
    assert panel.add_class("dust") is None
    panel.rename_current("grit")
    assert len(warned) == 2 and all("No space left" in w for w in warned)
    assert [c.name for c in project.classes] == ["object", "debris"]  # nothing half-done
    assert panel.list.count() == 2
    # Deleting: the masks are remapped, only project.json fails: said as it is.
    panel.select_class(2)
    panel.delete_current(confirm=False)  # a job: wait for it
    qtbot.waitUntil(lambda: not window.deletion.running)
    assert [c.name for c in project.classes] == ["object"] and panel.list.count() == 1
    assert "was deleted, but the project file could not be saved" in warned[-1]
    close_window(qtbot, window)


def test_unreadable_image_and_empty_folder(qtbot: QtBot, folder: Path, tmp_path: Path) -> None:
    (folder / "broken.png").write_bytes(b"not a png at all")
    window = open_window(qtbot, folder)
    window.navigation.show_image("broken.png")
    assert window.current is not None and window.current.rgb is None
    assert "broken.png" in window.canvas._message_item.text()
    drag(window.canvas, [(5, 5)])  # nothing to paint on, no crash
    qtbot.waitUntil(lambda: window.image_panel.model._entries[0].error != "")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert window.projects.open_folder(empty)
    assert "No images" in window.canvas._message_item.text()
    close_window(qtbot, window)


def test_second_window_is_read_only(qtbot: QtBot, folder: Path, monkeypatch: pytest.MonkeyPatch
                                    ) -> None:
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    first = open_window(qtbot, folder)
    second = open_window(qtbot, folder)
    assert second.project is not None and second.project.read_only
    assert "read-only" in second.windowTitle() and shown
    drag(second.canvas, [(30, 30)])
    second.session.save_current()  # nothing is written by a read-only window
    assert second.project.load_label("img00.png") is None
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: told.append(a[2]))
    second.model_controller.start_learning()
    second.model_controller.start_auto_label()
    assert second.model_controller.learn is None and second.model_controller.label is None
    assert len(told) == 2 and all("read-only" in t for t in told)
    close_window(qtbot, second)
    close_window(qtbot, first)


def test_reopening_the_open_folder_keeps_it_writable(qtbot: QtBot, folder: Path) -> None:
    """File > Open recent on the folder already open: it stays open and editable (it used to
    find its own lock, open read-only and drop the edits made after)."""
    window = open_window(qtbot, folder)
    project = window.project
    assert window.projects.open_folder(folder)
    assert window.project is project and not project.read_only  # type: ignore[union-attr]
    drag(window.canvas, [(30, 30), (50, 40)])
    window.session.save_current()
    window.saver.flush()
    assert project.load_label("img00.png") is not None  # type: ignore[union-attr]
    close_window(qtbot, window)


def test_settings_and_recent_folders_persist(qtbot: QtBot, folder: Path,
                                             _isolated_settings: Path) -> None:
    window = open_window(qtbot, folder)
    window.brush_size.setValue(33)
    window.opacity.setValue(70)
    close_window(qtbot, window)
    data = json.loads((_isolated_settings / "settings.json").read_text())
    assert data["brush_size"] == 33 and "tool" not in data  # sparse: defaults left out
    settings = load_settings()
    assert settings.recent_folders == [str(folder.resolve())]
    again = MainWindow(ask=Questions())
    qtbot.addWidget(again)
    assert again.brush_size.value() == 33 and again.canvas.brush_radius == 16  # 2 r + 1 = 33
    again.close()


def test_failed_save_keeps_labels_in_memory_and_retries(qtbot: QtBot, folder: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import app.saver as saver_module

    real_write = saver_module.write_png_atomic
    disk = {"full": True}

    def write(path, labels, palette=None):
        if disk["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, labels, palette)

    monkeypatch.setattr(saver_module, "write_png_atomic", write)
    window = open_window(qtbot, folder)
    window.brush_size.setValue(5)
    drag(window.canvas, [(20, 20), (40, 30)])
    painted = np.array(window.current.document.labels)  # type: ignore[union-attr]
    window.actions_.next_image.trigger()
    errors = window.saver.flush()
    assert any("No space left" in e and "img00.png" in e for e in errors)
    assert "img00.png" in window.saver.unsaved
    window.save_guard.check()
    assert window.save_guard.box is not None and window.save_guard.box.isVisible()
    window.navigation.show_image("img00.png")  # back again: the painting is still there
    assert np.array_equal(window.current.document.labels, painted)  # type: ignore[union-attr]
    from PySide6.QtWidgets import QMessageBox

    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    window.model_controller.start_learning()  # would learn from a mask that is not on disk
    assert window.model_controller.learn is None and any("could not be saved" in w for w in warned)
    disk["full"] = False
    window.save_guard.check()  # retries
    window.saver.flush()
    window.save_guard.check()
    assert not window.saver.unsaved and window.save_guard.box is None
    assert window.project is not None
    assert np.array_equal(window.project.load_label("img00.png"), painted)  # type: ignore[arg-type]
    close_window(qtbot, window)


def test_an_image_leaving_the_filter_stays_current(qtbot: QtBot, folder: Path) -> None:
    """Filter "Unlabelled", paint the shown image (it becomes a support example): the canvas
    must stay on it, not jump to the next unlabelled image."""
    window = open_window(qtbot, folder)
    panel = window.image_panel
    panel.filter_box.setCurrentIndex(panel.filter_box.findData("unlabelled"))
    window.navigation.show_image("img01.png")
    assert window.current is not None and window.current.name == "img01.png"
    drag(window.canvas, [(30, 30), (40, 40)])
    assert window.project is not None and window.project.state("img01.png") == ImageState.SUPPORT
    assert window.current.name == "img01.png"
    drag(window.canvas, [(60, 60), (70, 70)])  # the second stroke lands on the same image
    assert window.current.document.labels[65, 65] == 1  # type: ignore[union-attr]
    window.actions_.next_image.trigger()  # moving on follows the filtered list
    assert window.current.name == "img02.png"
    close_window(qtbot, window)


def test_accepting_an_example_keeps_it_an_example(qtbot: QtBot, folder: Path) -> None:
    window = open_window(qtbot, folder)
    drag(window.canvas, [(30, 30), (40, 40)])
    assert window.project is not None and window.project.state("img00.png") == ImageState.SUPPORT
    window.review.accept()  # "Accept" on a painted example must not demote it to reviewed
    window.saver.flush()
    assert window.project.state("img00.png") == ImageState.SUPPORT
    close_window(qtbot, window)


def test_painting_while_the_prediction_is_shown_unchecks_the_toggle(qtbot: QtBot,
                                                                    folder: Path) -> None:
    window = open_window(qtbot, folder)
    window.actions_.show_predictions.setChecked(True)
    drag(window.canvas, [(30, 30)])  # editing switches back to the human labels
    assert not window.actions_.show_predictions.isChecked()
    assert window.canvas.label_layer.isVisible()
    window.actions_.show_predictions.setChecked(True)  # and the toggle still works
    assert window.canvas.prediction_layer.isVisible()
    close_window(qtbot, window)


def test_large_image_loads_on_a_worker(qtbot: QtBot, folder: Path) -> None:
    window = new_window(qtbot)
    window.navigation.loader.large_pixels = 0  # every image counts as large
    assert window.projects.open_folder(folder)
    assert window.current is None  # the first image is still being read
    assert "Loading img00.png" in window.canvas._message_item.text()
    drag(window.canvas, [(20, 20), (40, 30)])  # nothing to paint on yet, no crash
    qtbot.waitUntil(lambda: window.current is not None)
    assert window.current.name == "img00.png" and window.current.rgb is not None
    assert (window.current.document.labels == NOT_PAINTED).all()  # type: ignore[union-attr]
    window.brush_size.setValue(5)
    drag(window.canvas, [(20, 20), (40, 30), (60, 40)])
    painted = np.array(window.current.document.labels)  # type: ignore[union-attr]
    assert painted.any()
    window.navigation.show_image("img01.png")
    window.navigation.show_image("img02.png")  # chosen before img01 arrived: img01 is dropped
    assert window.project is not None
    assert window.project.state("img00.png") == ImageState.SUPPORT  # saved on leaving
    qtbot.waitUntil(lambda: window.current is not None)
    assert window.current.name == "img02.png"
    qtbot.wait(300)
    assert window.current.name == "img02.png"
    window.navigation.show_image("img00.png")
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == "img00.png")
    assert np.array_equal(window.current.document.labels, painted)  # type: ignore[union-attr]
    window.navigation.show_image("img03.png")
    close_window(qtbot, window)  # closing while an image loads: no error, the load is dropped
    assert window.current is None
