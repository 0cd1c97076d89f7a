"""The closed loop wiring (learn, live prediction, auto-label, review, accept) with fast
stand-in jobs, so the GUI behaviour is tested without training a network."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from app_helpers import drag, make_folder, open_window
from pytestqt.qtbot import QtBot

from app.jobs import LabelUpdate, LearnResult, ModelReady, PredictResult, Status
from app.main_window import MainWindow
from app.session import Workers
from engine.infer.batch import LabelProgress
from engine.infer.expected import expected_sums
from engine.io.images import read_image, write_png_atomic
from engine.io.project import ImageState


@dataclass(frozen=True)
class FakeProgress:
    phase: str
    step: int
    total_steps: int
    loss: float
    elapsed_s: float = 0.0
    eta_s: float | None = 1.0
    message: str = ""


@dataclass
class FakeModel:
    metadata: dict[str, Any] = field(default_factory=lambda: {
        "loo_miou": 0.72, "loo_iou": {"object": 0.72}, "device": "cpu"})


def fake_learn(request: Any, steps: int = 5) -> Iterator[Any]:
    yield Status("Reading examples")
    for step in itertools.count(1) if steps < 0 else range(1, steps + 1):
        np.linalg.svd(np.ones((60, 60)))  # a little real work per step
        yield FakeProgress("train", step, max(steps, 1), 1.0 / step)
    path = request.models_dir / "model-test.dfss"
    path.write_bytes(b"fake model")
    return LearnResult(FakeModel(), path)


FLIP_SEEN: list[tuple[str, bool]] = []  # (job, flip_average) of each fake job started


def fake_predict(cache: Any, model_path: Path, name: str, image: np.ndarray,
                 device: Any = None, flip_average: bool = False) -> PredictResult:
    FLIP_SEEN.append(("predict", flip_average))
    labels = (image.mean(axis=2) > 120).astype(np.uint8)
    conf = np.where(labels == 1, 0.9, 0.8).astype(np.float32)
    return PredictResult(name, labels, conf, "cpu")


def fake_auto_label(model_path: Path, images: list[Path], output_dir: Path,
                    thumb_shapes: dict[str, tuple[int, int]], device: Any = None,
                    flip_average: bool = False) -> Iterator[Any]:
    FLIP_SEEN.append(("label", flip_average))
    yield Status("Loading the model")
    for i, path in enumerate(images, 1):
        out = output_dir / f"{path.stem}.png"
        if out.exists():
            yield LabelUpdate(LabelProgress(i, len(images), path, "resumed", "", None, None,
                                            10.0, 0.5),
                              None)
            continue
        labels = (read_image(path).mean(axis=2) > 120).astype(np.uint8)
        write_png_atomic(out, labels)
        small = np.zeros(thumb_shapes.get(path.name, (4, 4)), np.uint8)
        conf = np.full(labels.shape, 0.95, np.float32)
        yield LabelUpdate(LabelProgress(i, len(images), path, "labelled", "", labels,
                                        0.5 + 0.1 * i, 10.0, 0.5,
                                        expected_sums(labels, conf, 1)), small)


def use_workers(window: MainWindow, **fakes: Any) -> None:
    """Replace some of the session's job functions by ``fakes``."""
    window.session.workers = replace(window.session.workers, **fakes)


def learn_now(qtbot: QtBot, window: MainWindow) -> None:
    """Press Learn and wait until the (fake) job has finished."""
    with qtbot.waitSignal(window.model_controller.learned, timeout=10_000):
        window.actions_.learn.trigger()
    qtbot.waitUntil(lambda: window.model_controller.learn is None)


@pytest.fixture()
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    make_folder(tmp_path / "images", n=5)
    w = open_window(qtbot, tmp_path / "images")
    w.session.workers = Workers(learn=fake_learn, predict=fake_predict,
                                auto_label=fake_auto_label)
    yield w
    w.close()


def paint_two(window: MainWindow) -> None:
    for _ in range(2):
        drag(window.canvas, [(30, 30), (40, 40)])
        window.navigation.step(1)


def test_learn_saves_model_and_shows_prediction(qtbot: QtBot, window: MainWindow) -> None:
    paint_two(window)
    mc = window.model_controller
    with qtbot.waitSignals([mc.learned, mc.predicted], timeout=10_000):
        window.actions_.learn.trigger()
    project = window.project
    assert project is not None and project.active_model == "model-test.dfss"
    text = window.job_panel.model_label.text()
    assert "Held-out check on your examples: <b>72 %</b>" in text
    # no verdict from five examples alone: it waits for the folder's estimate
    assert not any(w in text for w in ("Good", "Weak", "Fair", "Estimated IoU"))
    assert "held-out check 72 %" in window.model_status.text()
    assert "predicted well" not in window.job_panel.model_label.text()  # no per-example data
    assert window.canvas.prediction_layer.labels is not None
    assert "CPU" in window.device_label.text()
    qtbot.waitUntil(lambda: window.job_panel.learn_button.isEnabled())


def test_learn_without_examples_explains(qtbot: QtBot, window: MainWindow,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: told.append(a[2]))
    window.actions_.learn.trigger()
    assert told and "Paint" in told[0] and window.model_controller.learn is None


def test_cancel_learning_keeps_previous_model(qtbot: QtBot, window: MainWindow,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    paint_two(window)
    learn_now(qtbot, window)
    def endless(request: Any) -> Iterator[Any]:
        return (yield from fake_learn(request, steps=-1))  # never ends

    use_workers(window, learn=endless)
    window.actions_.learn.trigger()
    job = window.model_controller.learn
    assert job is not None
    with qtbot.waitSignal(job.yielded):
        pass
    assert window.job_panel.cancel_button.isVisible()
    with qtbot.waitSignal(job.finished) as blocker:
        window.actions_.cancel_job.trigger()
    assert blocker.args == [True]
    assert window.project is not None and window.project.active_model == "model-test.dfss"
    assert "previous model is kept" in window.job_panel.detail.text()


def learn_in_two_stages(request: Any, checks: int = 5) -> Iterator[Any]:
    """Like the engine with leave-one-out folds: the model is usable before the check ends."""
    path = request.models_dir / "model-test.dfss"
    path.write_bytes(b"fake model")
    yield FakeProgress("train", 1, 1, 0.5)
    yield ModelReady(path)
    for step in itertools.count(1) if checks < 0 else range(1, checks + 1):
        np.linalg.svd(np.ones((60, 60)))
        yield FakeProgress("validate", step, max(checks, 1), 0.3)
    return LearnResult(FakeModel(), path)


def test_model_is_used_before_its_leave_one_out_check_ends(
        qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    paint_two(window)
    use_workers(window, learn=lambda r: (yield from learn_in_two_stages(r, 400)))
    project = window.project
    assert project is not None and project.active_model is None
    # the overlay from the new model
    with qtbot.waitSignal(window.model_controller.predicted, timeout=10_000):
        window.actions_.learn.trigger()
    assert window.model_controller.learn is not None  # the check still runs
    assert project.active_model == "model-test.dfss"
    assert "Checking" in window.job_panel.model_label.text()
    with qtbot.waitSignal(window.model_controller.learned, timeout=20_000):
        pass
    assert "72 %" in window.job_panel.model_label.text()
    assert project.model_info["loo_miou"] == pytest.approx(0.72)


def test_cancel_during_the_check_keeps_the_new_model_without_estimate(
        qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    paint_two(window)
    use_workers(window, learn=lambda r: (yield from learn_in_two_stages(r, -1)))
    window.actions_.learn.trigger()
    project, job = window.project, window.model_controller.learn
    assert project is not None and job is not None
    qtbot.waitUntil(lambda: project.active_model == "model-test.dfss", timeout=10_000)
    with qtbot.waitSignal(job.finished) as blocker:
        window.actions_.cancel_job.trigger()
    assert blocker.args == [True]
    assert project.active_model == "model-test.dfss"
    assert "new model is in use" in window.job_panel.detail.text()
    assert project.model_info == {"estimate": "cancelled"}
    assert "check was cancelled" in window.job_panel.model_label.text()


def test_auto_label_review_accept_and_resume(qtbot: QtBot, window: MainWindow) -> None:
    project = window.project
    assert project is not None
    paint_two(window)
    human = project.label_path("img00.png")
    learn_now(qtbot, window)
    window.saver.flush()
    human_bytes = human.read_bytes()
    qtbot.waitUntil(lambda: window.image_panel.model.thumb_shape("img04.png") is not None)
    with qtbot.waitSignal(window.model_controller.labelled, timeout=10_000) as blocker:
        window.actions_.auto_label.trigger()
    assert blocker.args == [False]
    counts = project.counts()
    assert counts[ImageState.PREDICTED] == 3 and counts[ImageState.SUPPORT] == 2
    assert human.read_bytes() == human_bytes  # a human label is never overwritten
    assert not project.prediction_path("img00.png").exists()
    model = window.image_panel.model
    assert model._entries[model.row_of("img04.png")].overlay is not None
    assert "3 predicted" in window.image_panel.counts_label.text()

    window.navigation.show_image("img00.png")
    window.actions_.review_next.trigger()  # least confident first
    assert window.current is not None and window.current.name == project.review_queue()[0]
    first = window.current.name
    window.actions_.accept.trigger()
    assert project.state(first) == ImageState.REVIEWED
    window.saver.flush()
    assert np.array_equal(project.load_label(first), project.load_prediction(first))
    assert window.current.name != first  # moved on to the next one
    window.actions_.toggle_support.trigger()
    assert project.state(window.current.name) == ImageState.SUPPORT

    # Auto-label again: done images are skipped (resumed), reviewed labels stay
    with qtbot.waitSignal(window.model_controller.labelled, timeout=10_000):
        window.actions_.auto_label.trigger()
    assert project.state(first) == ImageState.REVIEWED


def test_auto_label_shows_the_folder_estimate_and_a_new_model_drops_it(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    from engine.io.project import Project
    from engine.learning.estimate import folder_estimate, range_text

    paint_two(window)
    learn_now(qtbot, window)
    with qtbot.waitSignal(window.model_controller.labelled, timeout=10_000):
        window.actions_.auto_label.trigger()
    project = window.project
    assert project is not None
    # the fake labels 3 images with confidence 0.95 everywhere: expected IoU 0.95 / 1.05 ...
    info = project.model_info
    assert info["expected_images"] == 3 and 0.5 < info["expected_iou"] < 1
    est = folder_estimate(info["expected_iou"], 3)
    text = window.job_panel.model_label.text()
    assert f"Estimated IoU on the 3 images it labelled: <b>{range_text(est)}</b>" in text
    assert "Held-out check on your examples: <b>72 %</b>" in text  # still shown
    assert f"IoU about {range_text(est)}" in window.model_status.text()
    window.saver.flush()  # kept in project.json: shown again when the folder is reopened
    assert Project.open(tmp_path / "images").model_info["expected_images"] == 3
    learn_now(qtbot, window)  # another model: its estimate comes with its own labels
    assert "expected_iou" not in project.model_info
    assert "Estimated IoU" not in window.job_panel.model_label.text()


def _text_without_folder_estimate(qtbot: QtBot, window: MainWindow, **metadata: Any) -> str:
    """Learn a model whose metadata gets ``metadata``, auto-label with it, check that it got
    no folder estimate; the model panel's text."""
    def learn_with(request: Any) -> Iterator[Any]:
        result = yield from fake_learn(request)
        result.model.metadata.update(metadata)
        return result

    use_workers(window, learn=learn_with)
    paint_two(window)
    learn_now(qtbot, window)
    with qtbot.waitSignal(window.model_controller.labelled, timeout=10_000):
        window.actions_.auto_label.trigger()
    project = window.project
    assert project is not None and project.model_info.get("expected_iou") is None
    return window.job_panel.model_label.text()


def test_a_model_from_two_examples_gets_no_folder_estimate(qtbot: QtBot,
                                                           window: MainWindow) -> None:
    text = _text_without_folder_estimate(qtbot, window, num_support=2)
    assert "No estimate over the folder" in text and "paint more examples" in text


def test_a_model_from_scribbles_gets_no_folder_estimate(qtbot: QtBot,
                                                        window: MainWindow) -> None:
    text = _text_without_folder_estimate(qtbot, window, num_support=5, scribbled_examples=5)
    assert "No estimate over the folder" in text and "learned from scribbles" in text
    assert "(on the pixels you painted)" in text  # the held-out check scores only those


def test_cancel_auto_label(qtbot: QtBot, window: MainWindow,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    paint_two(window)
    learn_now(qtbot, window)

    def endless(*args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from fake_auto_label(*args, **kwargs)
        while True:
            yield Status("waiting")

    use_workers(window, auto_label=endless)
    with qtbot.waitSignal(window.model_controller.labelled, timeout=10_000) as blocker:
        window.actions_.auto_label.trigger()
        qtbot.waitUntil(lambda: window.project is not None
                        and window.project.counts()[ImageState.PREDICTED] == 3)
        window.actions_.cancel_job.trigger()
    assert blocker.args == [True]
    assert "Cancelled" in window.job_panel.detail.text()


def test_model_panel_names_examples_the_others_do_not_cover(qtbot: QtBot) -> None:
    from app.job_panel import JobPanel

    panel = JobPanel()
    qtbot.addWidget(panel)
    panel.set_model("m.dfss", 0.31, {"nucleus": 0.31}, [0.75, 0.82, 0.13, 0.81, 0.03],
                    ["a.png", "b.png", "c<1>.png", "d.png", "e.png"])
    text = panel.model_label.text()
    assert "31 %" in text and "3 of 5 examples" in text
    assert "c&lt;1&gt;.png (13 %)" in text and "e.png (3 %)" in text  # names are escaped


def test_flip_averaged_predictions_setting_reaches_both_jobs(qtbot: QtBot,
                                                             window: MainWindow) -> None:
    paint_two(window)
    learn_now(qtbot, window)
    qtbot.waitUntil(lambda: ("predict", False) in FLIP_SEEN)
    FLIP_SEEN.clear()
    window.actions_.flip_average.setChecked(True)  # Model > Flip-averaged predictions
    assert window.settings.flip_average
    # The shown image is predicted again with the new setting.
    qtbot.waitUntil(lambda: ("predict", True) in FLIP_SEEN)
    with qtbot.waitSignal(window.model_controller.labelled, timeout=10_000):
        window.actions_.auto_label.trigger()
    assert ("label", True) in FLIP_SEEN and ("label", False) not in FLIP_SEEN
    # the estimate is calibrated on plain predictions: none for flip-averaged labels, and why
    project = window.project
    assert project is not None and project.model_info.get("expected_iou") is None
    text = window.job_panel.model_label.text()
    assert "Estimated IoU" not in text and "No estimate over the folder" in text
    assert "flip" in text and "IoU about" not in window.model_status.text()
    FLIP_SEEN.clear()
    window.actions_.flip_average.setChecked(False)
    assert not window.settings.flip_average
    qtbot.waitUntil(lambda: ("predict", False) in FLIP_SEEN)


def fake_refine(request: Any, steps: int = 3) -> Iterator[Any]:
    yield Status("Loading the model")
    assert request.model_path.name == "model-test.dfss"
    for step in range(1, steps + 1):
        yield FakeProgress("pseudo", step, steps, float("nan"))
    path = request.models_dir / "model-test-refined.dfss"
    path.write_bytes(b"fake refined model")
    model = FakeModel()
    model.metadata["refine"] = {"images": 3}
    return LearnResult(model, path)


def test_refine_on_folder_uses_the_new_model_and_labels_again(
        qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: told.append(a[2]))
    window.actions_.refine.trigger()  # no model yet
    assert told and "Learn a class first" in told[0] and window.model_controller.learn is None
    paint_two(window)
    learn_now(qtbot, window)
    requests: list[Any] = []

    def recording_refine(request: Any) -> Iterator[Any]:
        requests.append(request)
        return (yield from fake_refine(request))

    use_workers(window, refine=recording_refine)
    project = window.project
    assert project is not None
    with qtbot.waitSignal(window.model_controller.labelled, timeout=10_000) as blocker:
        window.actions_.refine.trigger()
    assert blocker.args == [False]
    (request,) = requests
    assert [p.name for p, _ in request.supports] == project.names_with(ImageState.SUPPORT)
    assert sorted(p.name for p in request.folder) == ["img02.png", "img03.png", "img04.png"]
    assert project.active_model == "model-test-refined.dfss"
    assert project.counts()[ImageState.PREDICTED] == 3  # labelled again with the new model
    # its confidence on images it learned from says little: no folder estimate, and why
    assert project.model_info.get("expected_iou") is None
    text = window.job_panel.model_label.text()
    assert "Estimated IoU" not in text and "No estimate over the folder" in text


def test_cancel_refine_keeps_the_model(qtbot: QtBot, window: MainWindow) -> None:
    paint_two(window)
    learn_now(qtbot, window)

    def endless(request: Any) -> Iterator[Any]:
        while True:
            np.linalg.svd(np.ones((60, 60)))
            yield FakeProgress("train", 1, 10, 0.5)

    use_workers(window, refine=endless)
    window.actions_.refine.trigger()
    job = window.model_controller.learn
    assert job is not None
    with qtbot.waitSignal(job.finished, timeout=10_000) as blocker:
        window.actions_.cancel_job.trigger()
    assert blocker.args == [True]
    assert window.project is not None and window.project.active_model == "model-test.dfss"
    assert "previous model is kept" in window.job_panel.detail.text()
    assert window.model_controller.label is None  # no relabelling after a cancel
