"""The project on disk: layout, states, atomic saves, damage recovery, the lock."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.io.images import read_mask
from engine.io.project import ImageState, Project, ProjectDirNotWritable, ProjectReadOnlyError


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        arr = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
        Image.fromarray(arr).save(images / f"img{i}.png")
    return images


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_new_project_layout(folder: Path) -> None:
    before = _snapshot(folder)
    project = Project.open(folder)
    root = folder / ".distillfss"
    assert project.root == root.resolve()
    for sub in ("labels", "predictions", "models"):
        assert (root / sub).is_dir()
    data = json.loads((root / "project.json").read_text())
    assert data["schema_version"] == 1 and data["classes"] == []
    assert [p.name for p in project.images] == [f"img{i}.png" for i in range(4)]
    assert project.counts()[ImageState.UNLABELLED] == 4
    project.close()
    assert _snapshot(folder) == before  # the user's images are untouched
    assert not (root / "lock").exists()


def test_classes_and_labels_survive_reopen(folder: Path) -> None:
    project = Project.open(folder)
    cell = project.add_class("cell")
    project.add_class("debris", (1, 2, 3))
    project.rename_class(cell.id, "nucleus")
    project.recolor_class(cell.id, (9, 8, 7))
    labels = np.zeros((20, 30), np.uint8)
    labels[5:10, 5:10] = 1
    labels[12:15, 0:4] = 2
    project.save_label("img0.png", labels)
    assert project.state("img0.png") == ImageState.SUPPORT
    project.close()

    again = Project.open(folder)
    assert [(c.id, c.name, c.color) for c in again.classes] == [
        (1, "nucleus", (9, 8, 7)), (2, "debris", (1, 2, 3))]
    assert np.array_equal(again.load_label("img0.png"), labels)
    assert again.state("img0.png") == ImageState.SUPPORT
    assert again.load_label("img1.png") is None
    again.close()


def test_delete_class_remaps_labels(folder: Path) -> None:
    project = Project.open(folder)
    for name in ("a", "b", "c"):
        project.add_class(name)
    labels = np.array([[0, 1, 2, 3]] * 3, np.uint8)
    project.save_label("img0.png", labels)
    project.delete_class(2)
    assert [(c.id, c.name) for c in project.classes] == [(1, "a"), (2, "c")]
    assert np.array_equal(project.load_label("img0.png")[0], [0, 1, 0, 2])
    project.close()


def test_delete_class_is_all_or_nothing(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.io.project as project_module

    project = Project.open(folder)
    for name in ("a", "b", "c"):
        project.add_class(name)
    labels = np.array([[0, 1, 2, 3]] * 3, np.uint8)
    for name in ("img0.png", "img1.png", "img2.png"):
        project.save_label(name, labels)
    (project.root / "labels" / "img3.png").write_bytes(b"\x89PNG damaged")
    real_write, writes = project_module.write_png_atomic, []

    def disk_fills_up(path, arr, palette=None):
        writes.append(path)
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        real_write(path, arr, palette)

    monkeypatch.setattr(project_module, "write_png_atomic", disk_fills_up)
    with pytest.raises(OSError):
        project.delete_class(2)
    assert [c.name for c in project.classes][-3:] == ["a", "b", "c"]  # nothing changed
    for name in ("img0.png", "img1.png", "img2.png"):
        assert np.array_equal(project.load_label(name), labels)
    assert not list((project.root / "labels").glob(".*tmp"))  # no leftovers
    monkeypatch.setattr(project_module, "write_png_atomic", real_write)
    assert project.delete_class(2) == ["img3.png"]  # the damaged mask is left and named
    for name in ("img0.png", "img1.png", "img2.png"):
        assert np.array_equal(project.load_label(name)[0], [0, 1, 0, 2])
    project.close()


def test_predictions_review_queue_and_accept(folder: Path) -> None:
    project = Project.open(folder)
    project.add_class("x")
    human = np.ones((20, 30), np.uint8)
    project.save_label("img0.png", human)
    for i, conf in enumerate([0.9, 0.5, 0.7, 0.2]):
        pred = np.zeros((20, 30), np.uint8)
        pred[:, : i + 1] = 1
        from engine.io.images import write_png_atomic
        write_png_atomic(project.prediction_path(f"img{i}.png"), pred)
        project.record_prediction(f"img{i}.png", conf, save=False)
    project.save()
    # a prediction never changes the state of a human-labelled image
    assert project.state("img0.png") == ImageState.SUPPORT
    assert project.review_queue() == ["img3.png", "img1.png", "img2.png"]
    accepted = project.accept_prediction("img3.png")
    assert project.state("img3.png") == ImageState.REVIEWED
    assert np.array_equal(read_mask(project.label_path("img3.png")), accepted)
    assert np.array_equal(project.load_label("img0.png"), human)
    counts = project.counts()
    assert counts[ImageState.PREDICTED] == 2 and counts[ImageState.REVIEWED] == 1
    project.close()


def test_damaged_project_json_uses_last_good_copy(folder: Path) -> None:
    project = Project.open(folder)
    project.add_class("kept")
    project.close()
    Project.open(folder).close()  # a clean read stores the backup
    root = folder / ".distillfss"
    (root / "project.json").write_text("{ truncated")
    again = Project.open(folder)
    assert any("damaged" in w for w in again.warnings)
    assert [c.name for c in again.classes] == ["kept"]
    assert (root / "project.json.damaged").read_text() == "{ truncated"
    again.close()
    assert json.loads((root / "project.json").read_text())["classes"][0]["name"] == "kept"


def test_damaged_without_backup_starts_empty(folder: Path) -> None:
    root = folder / ".distillfss"
    root.mkdir()
    (root / "project.json").write_text("[]")
    project = Project.open(folder)
    assert project.warnings and project.classes == []
    project.close()


def test_second_instance_is_read_only(folder: Path) -> None:
    first = Project.open(folder)
    second = Project.open(folder)
    assert not first.read_only and second.read_only
    assert second.warnings
    with pytest.raises(ProjectReadOnlyError):
        second.add_class("nope")
    second.close()
    first.close()
    third = Project.open(folder)
    assert not third.read_only
    third.close()


def test_stale_lock_is_taken_over(folder: Path) -> None:
    root = folder / ".distillfss"
    root.mkdir()
    import socket
    (root / "lock").write_text(json.dumps(
        {"pid": 2 ** 22 + 12345, "host": socket.gethostname(), "time": 0}))
    project = Project.open(folder)
    assert not project.read_only
    project.close()


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="permission bits do not stop root / Windows")
def test_read_only_folder_needs_another_project_dir(folder: Path, tmp_path: Path) -> None:
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(ProjectDirNotWritable):
            Project.open(folder)
        project = Project.open(folder, tmp_path / "elsewhere")
        assert (tmp_path / "elsewhere" / "project.json").exists()
        project.close()
    finally:
        folder.chmod(stat.S_IRWXU)


def test_writes_are_atomic_no_temp_files_left(folder: Path) -> None:
    project = Project.open(folder)
    project.add_class("x")
    project.save_label("img1.png", np.ones((20, 30), np.uint8))
    project.close()
    leftovers = [p for p in (folder / ".distillfss").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_unwritable_default_dir_is_reported(folder: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real_mkdir = Path.mkdir
    blocked = (folder / ".distillfss").resolve()

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if blocked in (self, *self.parents):
            raise PermissionError(13, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(ProjectDirNotWritable):
        Project.open(folder)
    project = Project.open(folder, tmp_path / "chosen")
    assert project.to_json()["image_folder"] == str(folder.resolve())
    project.close()


def test_malformed_contents_count_as_damage(folder: Path) -> None:
    project = Project.open(folder)
    project.add_class("kept")
    project.close()
    Project.open(folder).close()
    root = folder / ".distillfss"
    (root / "project.json").write_text(json.dumps(
        {"schema_version": 1, "classes": [{"id": 1, "name": "x"}], "images": []}))
    again = Project.open(folder)
    assert any("damaged" in w for w in again.warnings)
    assert [c.name for c in again.classes] == ["kept"]
    again.close()


def test_no_backup_rebuilds_states_from_mask_files(folder: Path) -> None:
    project = Project.open(folder)
    project.add_class("x")
    project.save_label("img2.png", np.ones((20, 30), np.uint8))
    project.close()
    root = folder / ".distillfss"
    (root / "project.json").write_text("garbage")
    (root / "project.json.bak").write_text("garbage too")
    again = Project.open(folder)
    assert again.state("img2.png") == ImageState.SUPPORT
    assert again.state("img1.png") == ImageState.UNLABELLED
    again.close()
