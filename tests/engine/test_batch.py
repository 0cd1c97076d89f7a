"""Folder labelling: outputs, resume after cancel, unreadable files, write failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import make_sample

from engine.infer.batch import DONE_FILE, BatchWriteError, label_folder
from engine.infer.predict import Predictor
from engine.io.images import read_mask


def _folder(tmp_path, n=6):
    rng = np.random.default_rng(3)
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(n):
        img, _ = make_sample(rng, h=96 + i, w=120)
        Image.fromarray(img).save(folder / f"img{i}.png")
    return sorted(folder.iterdir())


def test_outputs_are_class_maps_at_the_input_size(disc_model, tmp_path):
    paths = _folder(tmp_path)
    records = list(label_folder(Predictor(disc_model, "cpu"), paths, tmp_path / "out",
                                batch_size=4))
    assert [r.status for r in records] == ["labelled"] * len(paths)
    assert records[-1].index == len(paths) and records[-1].images_per_s > 0
    for p, r in zip(paths, records):
        out = read_mask(tmp_path / "out" / f"{p.stem}.png")
        assert out.shape == (96 + int(p.stem[3:]), 120)
        np.testing.assert_array_equal(out, r.labels)
        with Image.open(tmp_path / "out" / f"{p.stem}.png") as im:
            assert im.mode == "P" and im.getpalette()[3:6] == [255, 0, 0]


def test_many_reader_and_writer_threads_write_every_output_once(disc_model, tmp_path):
    paths = _folder(tmp_path, n=9)
    predictor = Predictor(disc_model, "cpu")
    records = list(label_folder(predictor, paths, tmp_path / "out", batch_size=2,
                                threads=(4, 3)))
    assert [r.path for r in records] == paths  # input order, whatever the threads
    lines = (tmp_path / "out" / DONE_FILE).read_text().splitlines()
    assert sorted(json.loads(line)["name"] for line in lines) == sorted(f"{p.stem}.png"
                                                                        for p in paths)
    for p, r in zip(paths, records):
        np.testing.assert_array_equal(read_mask(tmp_path / "out" / f"{p.stem}.png"), r.labels)
    again = list(label_folder(predictor, paths, tmp_path / "out", threads=(4, 3)))
    assert [r.status for r in again] == ["resumed"] * len(paths)


def test_cancel_then_resume_skips_finished_images(disc_model, tmp_path):
    paths = _folder(tmp_path)
    predictor = Predictor(disc_model, "cpu")
    gen = label_folder(predictor, paths, tmp_path / "out", batch_size=2)
    first = [next(gen) for _ in range(3)]
    gen.close()
    assert all(r.status == "labelled" for r in first)
    again = list(label_folder(predictor, paths, tmp_path / "out", batch_size=2))
    resumed = {r.path for r in again if r.status == "resumed"}
    assert {r.path for r in first} <= resumed
    assert len(again) == len(paths)
    assert all((tmp_path / "out" / f"{p.stem}.png").is_file() for p in paths)


def test_a_different_model_redoes_everything(disc_model, two_class_model, tmp_path):
    paths = _folder(tmp_path, n=3)
    list(label_folder(Predictor(disc_model, "cpu"), paths, tmp_path / "out"))
    again = list(label_folder(Predictor(two_class_model, "cpu"), paths, tmp_path / "out"))
    assert [r.status for r in again] == ["labelled"] * 3


def test_unreadable_image_is_skipped_and_the_batch_goes_on(disc_model, tmp_path):
    paths = _folder(tmp_path, n=3)
    bad = paths[0].parent / "broken.png"
    bad.write_bytes(b"not an image at all")
    records = list(label_folder(Predictor(disc_model, "cpu"), sorted([*paths, bad]),
                                tmp_path / "out"))
    failed = [r for r in records if r.status == "failed"]
    assert len(failed) == 1 and "broken.png" in failed[0].message
    assert sum(r.status == "labelled" for r in records) == 3


def test_write_failure_stops_with_a_clear_error(disc_model, tmp_path, monkeypatch):
    from engine.io import outputs

    paths = _folder(tmp_path, n=6)
    out = tmp_path / "out"
    calls = {"n": 0}
    real = outputs.write_synced

    def flaky(path, data):
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(outputs, "write_synced", flaky)
    with pytest.raises(BatchWriteError, match="No space left"):
        list(label_folder(Predictor(disc_model, "cpu"), paths, out, batch_size=2))
    written = sorted(p.name for p in out.glob("*.png"))
    assert len(written) == 2
    for name in written:  # what was written before the failure is intact
        assert read_mask(out / name).shape[1] == 120
    assert len((out / DONE_FILE).read_text().splitlines()) == 2


def test_label_png_bytes_match_write_png_atomic(tmp_path):
    from engine.io.images import write_png_atomic
    from engine.io.outputs import label_png

    labels = np.random.default_rng(0).integers(0, 3, (37, 53), dtype=np.uint8)
    palette = [(0, 0, 0), (255, 0, 0), (0, 0, 255)]
    write_png_atomic(tmp_path / "a.png", labels, palette=palette)
    assert label_png(labels, palette) == (tmp_path / "a.png").read_bytes()


def test_done_log_is_committed_in_batches_after_the_files(tmp_path, monkeypatch):
    from engine.io import outputs

    events = []
    real_fsync = outputs.os.fsync
    monkeypatch.setattr(outputs, "fsync_dir", lambda d: events.append(("dir", None)))

    def fsync(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        real_fsync(fd)
        if path.endswith(DONE_FILE):  # how many lines the log holds now
            events.append(("log", len(Path(path).read_text().splitlines())))
        else:
            events.append(("file", path))

    monkeypatch.setattr(outputs.os, "fsync", fsync)
    writer = outputs.OutputWriter(tmp_path, "m", [(0, 0, 0), (9, 9, 9)], threads=2,
                                  commit_files=5, commit_s=3600)
    for i in range(12):
        writer.submit(f"o{i}.png", np.full((8, 8), i % 2, np.uint8), 0.5)
    writer.close()
    kinds = [k for k, _ in events]
    assert kinds.count("file") == 12 and kinds.count("log") == 3  # 5 + 5 + 2 left at close
    assert kinds.count("dir") == 3
    for i, (kind, n) in enumerate(events):  # a line only names a file synced before it
        if kind == "log":
            assert n <= kinds[:i].count("file")
            assert kinds[:i].count("dir") == kinds[:i + 1].count("log")  # renames synced
    lines = [json.loads(x) for x in (tmp_path / DONE_FILE).read_text().splitlines()]
    assert sorted(r["name"] for r in lines) == sorted(f"o{i}.png" for i in range(12))


def test_a_line_cut_by_a_crash_does_not_swallow_the_next_one(tmp_path):
    from engine.io.outputs import DoneLog, done_line, read_done

    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / DONE_FILE).write_text(done_line("a.png", "m", 0.9) + '{"name": "c.p')
    DoneLog(tmp_path).commit([done_line("b.png", "m", 0.8)])
    assert read_done(tmp_path, "m") == {"a.png": 0.9, "b.png": 0.8}
