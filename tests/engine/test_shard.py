"""``label --shard I/N`` and ``--merge``: the partition, outputs identical to one process,
SIGKILL of a shard, the merged export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import make_sample

from engine.cli.main import main
from engine.infer.batch import default_threads, label_folder
from engine.infer.predict import Predictor
from engine.infer.shard import Shard, shard_of
from engine.io.images import read_image, read_mask
from engine.io.outputs import done_file_name, done_logs, read_done

ROOT = Path(__file__).resolve().parents[2]
NUCLEI = ROOT / "resources" / "demo" / "nuclei"


def _names(n: int, start: int = 0) -> list[Path]:
    return [Path(f"/data/img_{i:06d}.jpg") for i in range(start, start + n)]


def test_partition_is_deterministic_complete_and_disjoint() -> None:
    images = _names(1000) + [Path("/data/ünï cödé.png"), Path("/data/a b.tif")]
    for n in (1, 2, 3, 7):
        parts = [Shard(i, n).select(images) for i in range(n)]
        assert sorted(p for part in parts for p in part) == sorted(images)  # union = all
        assert sum(len(part) for part in parts) == len(images)  # disjoint
        assert parts == [Shard(i, n).select(list(images)) for i in range(n)]  # same again
    sizes = [len(Shard(i, 4).select(images)) for i in range(4)]
    assert min(sizes) > 0.8 * len(images) / 4, sizes  # a hash, not a skewed rule
    # the shard of a name does not depend on its folder, the list or the order
    assert shard_of("/x/img_000007.jpg", 5) == shard_of("img_000007.jpg", 5)
    assert Shard(2, 5).select(images[::-1]) == Shard(2, 5).select(images)[::-1]


def test_partition_is_stable_when_files_are_added() -> None:
    old, new = _names(500), _names(300, start=500)
    for n in (2, 5):
        for i in range(n):
            before = Shard(i, n).select(old)
            after = Shard(i, n).select(sorted(old + new))
            assert [p for p in after if p in set(old)] == before


@pytest.mark.parametrize("text, message", [
    ("4/4", "must be 0 to 3"), ("-1/4", "must be 0 to 3"), ("1/0", "at least 1"),
    ("1-4", "expected I/N"), ("a/b", "expected I/N"), ("", "expected I/N"),
])
def test_bad_shard_is_refused_with_the_expected_form(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Shard.parse(text)


def test_shard_text_counts_from_zero() -> None:
    assert Shard.parse("0/4") == Shard(0, 4) and Shard.parse(" 3 / 4 ") == Shard(3, 4)
    assert str(Shard(3, 4)) == "3/4" and Shard(3, 4).tag == "shard-3-of-4"


def _folder(tmp_path: Path, n: int = 10) -> list[Path]:
    rng = np.random.default_rng(5)
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(n):
        img, _ = make_sample(rng, h=90 + 3 * i, w=110)
        Image.fromarray(img).save(folder / f"im{i:02d}.png")
    Image.fromarray(img).save(folder / "im00.jpg")  # same stem: named im00.jpg.png
    return sorted(folder.iterdir())


def _pngs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_shards_write_the_same_bytes_as_one_process(disc_model, tmp_path: Path) -> None:
    paths = _folder(tmp_path)
    predictor = Predictor(disc_model, "cpu")
    list(label_folder(predictor, paths, tmp_path / "local", batch_size=3))
    shards = [Shard(i, 3) for i in range(3)]
    for s in shards:  # shard sizes differ, so batches hold other images than the local run's
        recs = list(label_folder(predictor, paths, tmp_path / "sharded", batch_size=3, shard=s))
        assert [r.path for r in recs] == s.select(paths)
        assert {r.status for r in recs} == {"labelled"}
    local = _pngs(tmp_path / "local")
    assert len(local) == len(paths) and "im00.png.png" in local
    assert _pngs(tmp_path / "sharded") == local
    logs = done_logs(tmp_path / "sharded")
    assert [p.name for p in logs] == sorted(done_file_name(s.tag) for s in shards)
    per_log = [{json.loads(ln)["name"] for ln in p.read_text().splitlines()} for p in logs]
    assert sum(map(len, per_log)) == len(paths) and set().union(*per_log) == set(local)
    done = read_done(tmp_path / "sharded", predictor.model_id)
    assert set(done) == set(local)
    # each shard resumes on its own; a plain run sees every shard's work
    again = list(label_folder(predictor, paths, tmp_path / "sharded", shard=shards[1]))
    assert {r.status for r in again} == {"resumed"}
    assert {r.status for r in label_folder(predictor, paths, tmp_path / "sharded")} == {
        "resumed"}


@pytest.fixture(scope="module")
def model_file(disc_model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.nn.modelfile import save_model

    path = tmp_path_factory.mktemp("model") / "disc.dfss"
    save_model(disc_model, path)
    return path


def _cli(model: Path, inp: Path, out: Path, *extra: str) -> int:
    return main(["label", "--model", str(model), "--input", str(inp), "--output", str(out),
                 "--device", "cpu", *extra])


def test_merge_reports_missing_shards_and_exports_all_of_them(model_file: Path, tmp_path: Path,
                                                              capsys) -> None:
    from pycocotools.coco import COCO

    paths = _folder(tmp_path)
    inp, out = paths[0].parent, tmp_path / "out"
    assert _cli(model_file, inp, out, "--shard", "0/2", "--format", "coco") == 0
    assert not (out / "annotations.json").exists()  # a shard does not export
    assert "--merge --format coco" in capsys.readouterr().err
    assert _cli(model_file, inp, out, "--merge", "--format", "coco") == 3  # shard 1 missing
    err = capsys.readouterr().err
    n1 = len(Shard(1, 2).select(paths))
    assert f"{len(paths) - n1} of {len(paths)}" in err and f"{n1} image(s) have no output" in err
    assert _cli(model_file, inp, out, "--shard", "1/2") == 0
    assert _cli(model_file, inp, out, "--merge", "--format", "coco") == 0
    assert _cli(model_file, inp, tmp_path / "local", "--format", "coco") == 0
    merged = (out / "annotations.json").read_bytes()
    assert merged == (tmp_path / "local" / "annotations.json").read_bytes()
    coco = COCO(str(out / "annotations.json"))
    assert sorted(im["file_name"] for im in coco.dataset["images"]) == sorted(
        p.name for p in paths)


def test_bad_shard_argument_is_one_line_and_exit_1(model_file: Path, tmp_path: Path,
                                                   capsys) -> None:
    paths = _folder(tmp_path, n=2)
    assert _cli(model_file, paths[0].parent, tmp_path / "o", "--shard", "2/2") == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "0 to 1" in err and "count from 0" in err
    assert _cli(model_file, paths[0].parent, tmp_path / "o", "--shard", "0/2", "--merge") == 1
    assert "cannot be combined" in capsys.readouterr().err


def _label(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "label", "--device", "cpu",
                             *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace")


@pytest.mark.slow
def test_sigkill_of_a_shard_loses_nothing_and_the_rerun_finishes(model_file: Path,
                                                                 tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    inp = tmp_path / "in"
    inp.mkdir()
    for i in range(40):
        img, _ = make_sample(rng, h=200, w=240)
        Image.fromarray(img).save(inp / f"s{i:03d}.png")
    out = tmp_path / "out"
    args = ("--model", str(model_file), "--input", str(inp), "--output", str(out),
            "--batch-size", "1")
    shard = Shard(0, 2)
    log = out / done_file_name(shard.tag)
    proc = _label(*args, "--shard", str(shard))
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if log.is_file() and log.read_text().count("\n") >= 2:
            break
        time.sleep(0.005)
    if proc.poll() is not None:
        pytest.skip("the shard finished before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    mine = shard.select(sorted(inp.iterdir()))
    visible = list(out.glob("*.png"))
    assert 0 < len(visible) < len(mine)
    for p in visible:  # nothing half written: every visible output reads
        assert read_mask(p).shape == read_image(inp / p.name).shape[:2]
    logged = read_done(out, Predictor.from_file(model_file, "cpu").model_id)
    assert set(logged) <= {p.name for p in visible}  # the log names only files on disk
    for s in ("0/2", "1/2"):
        again = _label(*args, "--shard", s)
        _, err = again.communicate(timeout=300)
        assert again.returncode == 0, err
    local = _label("--model", str(model_file), "--input", str(inp), "--output",
                   str(tmp_path / "local"))
    assert local.communicate(timeout=300) and local.returncode == 0
    assert _pngs(out) == _pngs(tmp_path / "local")
    # A kill during a write can leave that write's hidden temp file (at most one per writer
    # thread; never a visible output, and list_images skips hidden files); the reruns leave none.
    leftovers = list(out.glob(".*.tmp"))
    assert len(leftovers) <= default_threads()[1]
    assert all(p.name.startswith(".s") for p in leftovers)
