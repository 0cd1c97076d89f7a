"""File > Export… and File > Import… in the app: formats of the CLI, run in a worker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import drag, make_folder, open_window
from pytestqt.qtbot import QtBot

from app.export_dialog import ExportDialog, ExportSummary
from app.import_dialog import ImportDialog
from app.main_window import MainWindow
from engine.io.images import write_png_atomic
from engine.io.labels import NOT_PAINTED
from engine.io.project import ImageState


@pytest.fixture()
def window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    make_folder(tmp_path / "images", n=4)
    w = open_window(qtbot, tmp_path / "images")
    return w


def paint_and_predict(window: MainWindow) -> None:
    """img00, img01: painted examples (two strokes on img00); img02: a prediction only."""
    window.brush_size.setValue(9)
    drag(window.canvas, [(20, 20), (40, 20)])
    drag(window.canvas, [(90, 60)])
    window.navigation.step(1)
    drag(window.canvas, [(60, 50)])
    project = window.project
    assert project is not None
    pred = np.zeros((96, 128), np.uint8)
    pred[10:30, 10:30] = 1
    write_png_atomic(project.prediction_path("img02.png"), pred)
    project.record_prediction("img02.png", 0.9)


def run_export(qtbot: QtBot, window: MainWindow, fmt: str, out: Path,
               predictions: bool = False) -> ExportSummary:
    window.actions_.export_labels.trigger()  # File > Export…
    dialog = window.export_dialog
    assert isinstance(dialog, ExportDialog) and dialog.isVisible()
    dialog.format_box.setCurrentIndex(dialog.format_box.findData(fmt))
    (dialog.with_predictions if predictions else dialog.labels_only).setChecked(True)
    dialog.folder_edit.setText(str(out))
    with qtbot.waitSignal(dialog.exported, timeout=10_000) as blocker:
        dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.job is None)
    return blocker.args[0]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2 copy=
def test_export_coco_from_the_menu_reads_back_equal(qtbot: QtBot, window: MainWindow,
                                                    tmp_path: Path) -> None:
    coco_api = pytest.importorskip("pycocotools.coco")
    paint_and_predict(window)
    summary = run_export(qtbot, window, "coco", tmp_path / "out")
    project = window.project
    assert project is not None
    assert summary.images == 2 and summary.objects == 3  # two blobs on img00, one on img01
    assert "Exported 2 images with 3 objects" in window.export_dialog.result.text()
    assert not window.export_dialog.progress.isVisible()
    coco = coco_api.COCO(str(tmp_path / "out" / "annotations.json"))
    by_name = {img["file_name"]: img["id"] for img in coco.dataset["images"]}
    assert set(by_name) == {"img00.png", "img01.png"}  # human labels only
    for name, image_id in by_name.items():
        labels = np.zeros((96, 128), np.uint8)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[image_id])):
            labels[coco.annToMask(ann) > 0] = ann["category_id"]
        painted = project.load_label(name)  # exports write unpainted pixels as background
        assert np.array_equal(labels, np.where(painted == NOT_PAINTED, 0, painted))


def test_export_with_predictions_and_other_formats(qtbot: QtBot, window: MainWindow,
                                                   tmp_path: Path) -> None:
    paint_and_predict(window)
    summary = run_export(qtbot, window, "png", tmp_path / "png", predictions=True)
    assert summary.images == 3 and summary.objects == 4
    assert sorted(p.name for p in (tmp_path / "png").glob("*.png")) == [
        "img00.png", "img01.png", "img02.png"]
    summary = run_export(qtbot, window, "yolo", tmp_path / "yolo")
    assert summary.images == 2 and (tmp_path / "yolo" / "data.yaml").is_file()
    assert len(list((tmp_path / "yolo" / "labels").glob("*.txt"))) == 2
    summary = run_export(qtbot, window, "labelme", tmp_path / "labelme")
    assert len(list((tmp_path / "labelme").glob("*.json"))) == 2


def test_export_progress_and_cancel(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    paint_and_predict(window)
    seen: list[int] = []
    window.actions_.export_labels.trigger()
    dialog = window.export_dialog
    dialog.progress.valueChanged.connect(seen.append)
    dialog.folder_edit.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(dialog.exported, timeout=10_000):
        dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.job is None)
    assert seen[:3] == [0, 1, 2]  # the bar followed the images

    dialog._cancel.set()  # a cancel before the first image stops the next export at once
    monkeypatch.setattr(dialog._cancel, "clear", lambda: None)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.job is None)
    assert dialog.result.text().startswith("Export cancelled")
    assert dialog.export_button.isEnabled()


def test_import_coco_from_the_menu_makes_examples(qtbot: QtBot, window: MainWindow,
                                                  tmp_path: Path) -> None:
    paint_and_predict(window)
    run_export(qtbot, window, "coco", tmp_path / "out")
    make_folder(tmp_path / "other", n=4)  # the same names, a new project
    assert window.projects.open_folder(tmp_path / "other")
    project = window.project
    assert project is not None and project.counts()[ImageState.SUPPORT] == 0
    window.actions_.import_labels.trigger()  # File > Import…
    dialog = window.import_dialog
    assert isinstance(dialog, ImportDialog)
    dialog.format_box.setCurrentIndex(dialog.format_box.findData("coco"))
    dialog.path_edit.setText(str(tmp_path / "out" / "annotations.json"))
    with qtbot.waitSignal(dialog.imported, timeout=10_000) as blocker:
        dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.job is None)
    assert blocker.args[0].written == 2
    assert project.state("img00.png") == ImageState.SUPPORT
    assert "2 examples" in window.image_panel.counts_label.text()
    assert "Imported 2 label maps" in dialog.result.text()
    assert window.current is not None and window.current.name == "img00.png"
    assert window.current.document is not None and window.current.document.labels.any()
