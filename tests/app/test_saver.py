"""The label saver: failed writes keep the newest labels in memory, never older ones."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
from app_helpers import make_folder

import app.saver as saver_module
from app.saver import Saver
from engine.io.project import Project

SHAPE = (96, 128)


def one_image_project(tmp_path: Path) -> tuple[Project, str, np.ndarray, np.ndarray]:
    """A project of one image, its name, and two different label maps (older, newer)."""
    make_folder(tmp_path / "images", n=1, size=SHAPE)
    project = Project.open(tmp_path / "images")
    older, newer = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    older[:10] = 1
    newer[-10:] = 1
    return project, project.images[0].name, older, newer


@pytest.mark.parametrize("outcomes", [("fail", "ok"), ("ok", "fail"), ("fail", "fail")])
def test_only_the_newest_write_of_an_image_decides_what_is_unsaved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outcomes: tuple[str, str]) -> None:
    project, name, older, newer = one_image_project(tmp_path)
    real_write = saver_module.write_png_atomic
    queue = list(outcomes)

    def write(path, labels, palette=None):
        if queue.pop(0) == "fail":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, labels, palette)

    monkeypatch.setattr(saver_module, "write_png_atomic", write)
    saver = Saver()
    saver.save_label(project, name, older)
    saver.save_label(project, name, newer)
    errors = saver.flush()
    assert len(errors) == outcomes.count("fail")
    if outcomes[1] == "ok":
        assert name not in saver.unsaved
        assert np.array_equal(project.load_label(name), newer)
    else:
        assert np.array_equal(saver.unsaved[name][0], newer)
        monkeypatch.setattr(saver_module, "write_png_atomic", real_write)
        saver.retry(project)
        assert saver.flush() == [] and not saver.unsaved
        assert np.array_equal(project.load_label(name), newer)
    saver.close()
    project.close()


def test_retry_never_overwrites_labels_queued_after_the_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disk full, the user goes on painting, an autosave tick retries while the newer
    stroke's write is still queued: the newer labels must be what ends up on disk."""
    import threading

    project, name, older, newer = one_image_project(tmp_path)
    real_write = saver_module.write_png_atomic
    gate, calls = threading.Event(), []

    def write(path, labels, palette=None):
        calls.append(labels.copy())
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        gate.wait(10)  # the newer write is still running when retry() is called
        real_write(path, labels, palette)

    monkeypatch.setattr(saver_module, "write_png_atomic", write)
    saver = Saver()
    saver.save_label(project, name, older)
    assert len(saver.flush()) == 1 and np.array_equal(saver.unsaved[name][0], older)
    saver.save_label(project, name, newer)   # queued, blocked in the writer
    saver.retry(project)                     # must not re-send the older labels
    gate.set()
    assert saver.flush() == []
    assert not saver.unsaved
    assert np.array_equal(project.load_label(name), newer)
    assert len(calls) == 2
    saver.close()
    project.close()
