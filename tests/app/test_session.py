"""The Qt-free session (app/session.py) without widgets, and class deletion as a job."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from app_helpers import GapMeter, drag, make_folder, open_window
from PIL import Image
from pytestqt.qtbot import QtBot

from app.current import CurrentImage
from app.jobs import DeleteResult, default_workers, delete_class_job
from app.saver import Saver
from app.session import DELETE_CLASS, LABEL, LEARN, LIVE, JobState, Session, Workers
from engine.io.project import ImageState, Project


def test_session_imports_no_qt() -> None:
    code = ("import sys, app.session; "
            "sys.exit(any(m.startswith('PySide6') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.fixture()
def session(tmp_path: Path) -> Iterator[Session]:
    s = Session(saver=Saver())
    yield s
    if s.project is not None:
        s.saver.flush()
        s.project.close()
    s.saver.close()


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(folder / f"im{i}.png")
    return folder


def record(session: Session) -> list[tuple[str, tuple]]:
    """Every event the session emits, as (name, args)."""
    seen: list[tuple[str, tuple]] = []
    for name in ("project_changed", "image_changed", "image_state_changed", "labels_changed",
                 "image_requested", "model_changed", "job_changed", "status"):
        getattr(session.events, name).connect(lambda *a, n=name: seen.append((n, a)))
    return seen


def test_project_open_close_and_image_events(session: Session, folder: Path) -> None:
    seen = record(session)
    project = Project.open(folder)
    project.add_class("object")
    session.project = project
    assert seen == [("project_changed", (project,))]
    cur = CurrentImage.load(project, "im0.png")
    session.current = cur
    session.current = cur  # the same image again: no event
    assert seen[-1] == ("image_changed", (cur,)) and len(seen) == 2
    assert cur.document is not None
    cur.document.begin_stroke()
    cur.document.paint((5, 5), 2, 1)
    cur.document.end_stroke()
    assert session.save_current()
    assert seen[-1] == ("image_state_changed", ("im0.png",))
    assert project.state("im0.png") == ImageState.SUPPORT
    assert not session.save_current()  # nothing changed since
    session.request_image("im1.png")
    assert seen[-1] == ("image_requested", ("im1.png",))
    session.saver.flush()
    session.project = None  # closing drops the image first
    assert [n for n, _ in seen[-2:]] == ["image_changed", "project_changed"]
    assert session.current is None and seen[-1] == ("project_changed", (None,))
    project.close()


def test_model_in_use(session: Session, folder: Path) -> None:
    assert not session.set_model("m.dfss", {})  # no project
    session.project = Project.open(folder)
    seen = record(session)
    assert session.set_model("m.dfss", {"loo_miou": 0.5})
    assert seen == [("model_changed", ("m.dfss", {"loo_miou": 0.5}))]
    assert session.model_name == "m.dfss" and session.model_info == {"loo_miou": 0.5}
    assert session.model_path is None  # no such file
    session.saver.flush()
    assert Project.open(folder, read_only=True).active_model == "m.dfss"  # saved
    session.set_model(None, {})
    assert session.model_name is None and seen[-1] == ("model_changed", (None, {}))


def test_job_states_start_fail_finish() -> None:
    session = Session()
    seen = record(session)
    assert not session.busy and session.job(LEARN) == JobState()
    session.job_started(LEARN, "Learning from 2 examples")
    assert session.busy and session.job(LEARN).running
    session.job_progress(LEARN, "step 1/5")
    session.job_failed(LEARN, "Learning failed: out of memory")
    session.job_finished(LEARN, "Model ready.")  # a failed job keeps its failure message
    assert session.job(LEARN) == JobState(False, "Learning failed: out of memory",
                                          "Learning failed: out of memory")
    assert not session.busy
    kinds = [(a[0], a[1].running) for n, a in seen if n == "job_changed"]
    assert kinds == [(LEARN, True), (LEARN, True), (LEARN, True), (LEARN, False)]
    session.job_started(LEARN)  # a new run forgets the old failure
    assert session.job(LEARN).failure is None
    session.job_finished(LEARN, "Model ready.")
    assert session.job(LEARN) == JobState(False, "Model ready.", None)
    session.job_started(LIVE)
    assert not session.busy  # live rounds pause for the others, they do not block them
    for kind in (LABEL, DELETE_CLASS):
        session.job_started(kind)
        assert session.busy
        session.job_finished(kind)
    session.status("hello", 100)
    session.report(["disk full"])
    assert seen[-2:] == [("status", ("hello", 100)), ("status", ("disk full", 10000))]


def test_workers_are_the_apps_unless_given() -> None:
    def fake(*_a: Any) -> None:
        return None

    session = Session(workers=Workers(learn=fake), defaults=default_workers)
    assert session.worker("learn") is fake
    assert session.worker("delete_class") is delete_class_job
    assert session.workers.learn is fake


# -- class deletion runs as a job -----------------------------------------------------------
def two_classes(qtbot: QtBot, folder: Path, n: int = 4) -> Any:
    make_folder(folder, n=n)
    window = open_window(qtbot, folder)
    window.classes_panel.add_class("second")
    window.brush_size.setValue(5)
    for _ in range(n):
        drag(window.canvas, [(20, 50), (40, 50)])  # class 2
        window.navigation.step(1)
    window.session.save_current()
    window.saver.flush()
    return window


def test_class_deletion_runs_off_the_gui_thread_and_the_ui_stays_responsive(
        qtbot: QtBot, tmp_path: Path) -> None:
    window = two_classes(qtbot, tmp_path / "images")
    project = window.project
    assert project is not None and window.current is not None
    shown = window.current.name
    threads: list[str] = []

    def slow_delete(project: Project, class_id: int) -> DeleteResult:
        threads.append(threading.current_thread().name)
        time.sleep(1.0)  # a large folder: seconds of PNG rewriting
        return delete_class_job(project, class_id)

    window.session.workers = Workers(delete_class=slow_delete)
    meter = GapMeter()
    meter.start()
    try:
        window.classes_panel.select_class(2)
        window.classes_panel.delete_current(confirm=False)
        assert window.deletion.running and window.session.busy
        assert window.current is None  # nothing to paint while the masks are rewritten
        assert window.job_panel.progress.isVisible()
        assert not window.classes_panel.delete_button.isEnabled()
        assert not window.job_panel.learn_button.isEnabled()
        window.navigation.show_image("img02.png")  # asked for meanwhile: shown when done
        qtbot.waitUntil(lambda: not window.deletion.running, timeout=10_000)
    finally:
        meter.timer.stop()
    assert threads and threads[0] != threading.main_thread().name
    assert meter.worst < 0.5, f"the event loop stalled for {meter.worst * 1000:.0f} ms"
    assert [c.name for c in project.classes] == ["object"]
    assert window.classes_panel.delete_button.isEnabled() and not window.session.busy
    assert window.current is not None and window.current.name == "img02.png" != shown
    label = project.load_label("img02.png")
    assert label is not None and label[50, 30] == 0  # class 2 became background
    assert window.current.document is not None
    assert window.current.document.labels[50, 30] == 0
    window.close()


def test_failed_class_deletion_changes_nothing(qtbot: QtBot, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    window = two_classes(qtbot, tmp_path / "images", n=2)
    project = window.project
    assert project is not None and window.current is not None
    shown = window.current.name
    before = {p.name: p.read_bytes() for p in (project.root / "labels").glob("*.png")}
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))

    def full(_project: Project, _class_id: int) -> DeleteResult:
        raise OSError(28, "No space left on device")

    window.session.workers = Workers(delete_class=full)
    window.classes_panel.select_class(2)
    window.classes_panel.delete_current(confirm=False)
    qtbot.waitUntil(lambda: not window.deletion.running, timeout=10_000)
    assert warned and "was not deleted; no mask was changed" in warned[-1]
    assert "No space left" in warned[-1]
    assert window.session.job(DELETE_CLASS).failure is not None
    assert [c.name for c in project.classes] == ["object", "second"]
    assert {p.name: p.read_bytes() for p in (project.root / "labels").glob("*.png")} == before
    assert window.current is not None and window.current.name == shown  # shown again
    window.close()


def test_class_deletion_stops_a_running_learn_job(qtbot: QtBot, tmp_path: Path) -> None:
    from app.jobs import Status

    window = two_classes(qtbot, tmp_path / "images", n=2)

    def endless(_request: Any) -> Iterator[Any]:
        while True:
            time.sleep(0.01)
            yield Status("learning")

    window.session.workers = Workers(learn=endless)
    window.actions_.learn.trigger()
    assert window.model_controller.learn is not None and window.session.job(LEARN).running
    window.classes_panel.select_class(2)
    window.classes_panel.delete_current(confirm=False)
    assert window.model_controller.learn is None and not window.session.job(LEARN).running
    qtbot.waitUntil(lambda: not window.deletion.running, timeout=10_000)
    assert window.project is not None and [c.name for c in window.project.classes] == ["object"]
    window.close()
