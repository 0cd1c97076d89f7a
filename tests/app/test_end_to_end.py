"""The whole loop on the bundled nuclei images: paint 5 masks, Learn, Auto-label, accept."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from engine.cli.demo import spread_indices
from engine.io.images import list_images, read_mask
from engine.io.project import ImageState
from engine.io.resources import demo_dir

for _module in ("engine.learning.train", "engine.infer.predict", "engine.infer.batch",
                "engine.nn.modelfile"):
    pytest.importorskip(_module)

pytestmark = pytest.mark.slow
SUPPORTS = 5


def test_paint_learn_autolabel_accept_reaches_iou(qtbot: QtBot, tmp_path: Path) -> None:
    from engine.learning.train import LearnConfig

    folder = tmp_path / "nuclei"
    folder.mkdir()
    truth = {}
    for image in list_images(demo_dir() / "images"):
        shutil.copy2(image, folder / image.name)
        truth[image.name] = (read_mask(demo_dir() / "masks" / image.name) > 0).astype(np.uint8)
    window = MainWindow(ask=lambda _title, _text: True)  # accept an unsure prediction
    qtbot.addWidget(window)
    window.show()
    assert window.projects.open_folder(folder)
    # A fixed step count (no time budget) keeps the result the same on slow or busy machines.
    window.model_controller.learn_config = LearnConfig(max_steps=90, time_budget_s=None,
                                                       loo_steps=0, seed=0)
    names = sorted(truth)
    # The method's deterministic support choice (method.md §4.1, as in `distillfss demo`):
    # both ends of the list, then midpoints.
    supports = [names[i] for i in spread_indices(len(names), SUPPORTS)]
    for name in supports:  # paint the ground truth through the canvas's document
        window.navigation.show_image(name)
        assert window.current is not None and window.current.document is not None
        window.current.document.replace(truth[name])
        window.canvas.stroke_finished.emit()
    project = window.project
    assert project is not None and len(project.names_with(ImageState.SUPPORT)) == SUPPORTS

    with qtbot.waitSignal(window.model_controller.learned, timeout=240_000):
        window.actions_.learn.trigger()
    qtbot.waitUntil(lambda: window.model_controller.learn is None, timeout=30_000)
    with qtbot.waitSignal(window.model_controller.labelled, timeout=240_000) as blocker:
        window.actions_.auto_label.trigger()
    assert blocker.args == [False]
    assert project.counts()[ImageState.PREDICTED] == len(names) - SUPPORTS

    window.navigation.show_image(supports[0])
    window.actions_.review_next.trigger()
    for _ in range(len(names)):  # Enter on each: accept and go to the next
        if window.current is None or project.state(window.current.name) != ImageState.PREDICTED:
            break
        window.actions_.accept.trigger()
    window.saver.flush()
    reviewed = project.names_with(ImageState.REVIEWED)
    assert len(reviewed) == len(names) - SUPPORTS
    inter = union = 0
    for name in reviewed:
        label = project.load_label(name)
        assert label is not None
        pred, gt = label > 0, truth[name] > 0
        inter += int((pred & gt).sum())
        union += int((pred | gt).sum())
    iou = inter / max(union, 1)
    print(f"foreground IoU over {len(reviewed)} accepted images: {iou:.3f}")
    assert iou > 0.6
    window.close()
