"""``label --ray``: outputs byte-identical to one process on a local Ray (``ray.init(num_cpus=2)``),
resume, SIGKILL of an actor mid-run, and the message when Ray is not installed."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import make_sample

from engine.cli.main import main
from engine.infer.batch import label_folder
from engine.infer.predict import Predictor
from engine.infer.ray_label import RAY_HINT, RayUnavailable, import_ray
from engine.io.images import read_image, read_mask
from engine.io.outputs import done_logs, read_done


def test_missing_ray_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(RayUnavailable, match=r"pip install distillfss-studio\[ray\]"):
        import_ray()
    assert "distillfss-studio[ray]" in RAY_HINT


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


def test_ray_outputs_are_identical_to_one_process_and_resume(disc_model, local_ray,
                                                              tmp_path: Path) -> None:
    from engine.infer.ray_label import label_with_ray
    from engine.nn.modelfile import save_model

    rng = np.random.default_rng(11)
    inp = tmp_path / "in"
    inp.mkdir()
    for i in range(9):
        img, _ = make_sample(rng, h=80 + 7 * i, w=100)
        Image.fromarray(img).save(inp / f"r{i}.png")
    (inp / "broken.png").write_bytes(b"not an image")
    paths = sorted(inp.iterdir())
    model = tmp_path / "disc.dfss"
    save_model(disc_model, model)
    predictor = Predictor(disc_model, "cpu")
    list(label_folder(predictor, paths, tmp_path / "local", batch_size=4))
    recs = list(label_with_ray(model, paths, tmp_path / "ray", batch_size=2, actors=2,
                               device="cpu"))
    assert sorted(r.path.name for r in recs) == sorted(p.name for p in paths)
    failed = [r for r in recs if r.status == "failed"]
    assert len(failed) == 1 and "broken.png" in failed[0].message
    assert recs[-1].index == len(paths) and recs[-1].total == len(paths)
    local = {p.name: p.read_bytes() for p in (tmp_path / "local").glob("*.png")}
    ray_out = {p.name: p.read_bytes() for p in (tmp_path / "ray").glob("*.png")}
    assert len(local) == 9 and ray_out == local
    logged = [json.loads(ln)["name"] for log in done_logs(tmp_path / "ray")
              for ln in log.read_text().splitlines()]
    assert sorted(logged) == sorted(local)
    conf = {r.path.name: r.confidence_score for r in recs if r.status == "labelled"}
    ref = {r.path.name: r.confidence_score for r in label_folder(predictor, paths,
                                                                 tmp_path / "local")}
    assert conf == pytest.approx({k: ref[k] for k in conf}, abs=1e-5)
    again = list(label_with_ray(model, paths, tmp_path / "ray", actors=2, device="cpu"))
    assert sorted(r.status for r in again) == ["failed"] + ["resumed"] * 9


def _actor_pid(log: Path) -> int:
    """The pid in an actor's done log name, ``.distillfss-done.ray-<host>-<pid>.jsonl``."""
    return int(log.name.removesuffix(".jsonl").rsplit("-", 1)[1])


def _kill_first_actor(out: Path, killed: dict, stop: threading.Event) -> None:
    """SIGKILL the first actor that commits a batch (its done log gets a line), from outside."""
    while not stop.is_set():
        for log in done_logs(out):
            if log.name.startswith(".distillfss-done.ray-") and log.read_text().count("\n"):
                killed["pngs"] = len(list(out.glob("*.png")))
                killed["pid"] = _actor_pid(log)
                os.kill(killed["pid"], signal.SIGKILL)
                return
        time.sleep(0.002)


@pytest.mark.slow
def test_sigkill_of_a_ray_actor_loses_nothing_and_the_run_finishes(disc_model, local_ray,
                                                                   tmp_path: Path) -> None:
    from engine.infer.ray_label import label_with_ray
    from engine.nn.modelfile import save_model

    rng = np.random.default_rng(13)
    inp = tmp_path / "in"
    inp.mkdir()
    for i in range(24):
        img, _ = make_sample(rng, h=150 + 5 * i, w=180)
        Image.fromarray(img).save(inp / f"k{i:02d}.png")
    paths = sorted(inp.iterdir())
    model = tmp_path / "disc.dfss"
    save_model(disc_model, model)
    out = tmp_path / "ray"
    killed: dict = {}
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_actor, args=(out, killed, stop))
    killer.start()
    try:  # Ray restarts the actor and retries its batches: the run goes on
        recs = list(label_with_ray(model, paths, out, batch_size=2, actors=2, device="cpu"))
    finally:
        stop.set()
        killer.join()
    if "pid" not in killed:
        pytest.skip("no actor committed a batch before the run ended")
    assert killed["pngs"] < len(paths)  # killed mid-run
    assert not Path(f"/proc/{killed['pid']}").exists() or _zombie(killed["pid"])
    logs = done_logs(out)
    assert killed["pid"] in {_actor_pid(log) for log in logs}
    assert len(logs) >= 3  # the two actors, and the killed one restarted in a new process
    # every image reported once, labelled
    assert sorted(r.path.name for r in recs) == [p.name for p in paths]
    assert {r.status for r in recs} == {"labelled"} and recs[-1].index == len(paths)
    # nothing half written: every output reads at its image's size, every log line parses
    # and names an output on disk (a cut last line would be skipped by read_done; none here
    # since the kill came between commits or the line was whole)
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == [f"{p.stem}.png" for p in paths]
    for p in pngs:
        assert read_mask(p).shape == read_image(inp / p.name).shape[:2]
    model_id = Predictor.from_file(model, "cpu").model_id
    for log in logs:
        text = log.read_text()
        whole = text.splitlines()[:-1] if not text.endswith("\n") else text.splitlines()
        for line in whole:
            rec = json.loads(line)
            assert rec["model"] == model_id and (out / rec["name"]).is_file()
    assert set(read_done(out, model_id)) == {p.name for p in pngs}
    # the same bytes as one process; a rerun with --ray finds everything done
    list(label_folder(Predictor(disc_model, "cpu"), paths, tmp_path / "local", batch_size=4))
    local = {p.name: p.read_bytes() for p in (tmp_path / "local").glob("*.png")}
    assert {p.name: p.read_bytes() for p in pngs} == local
    assert main(["label", "--model", str(model), "--input", str(inp), "--output", str(out),
                 "--device", "cpu", "--ray", "--ray-actors", "2"]) == 0
    assert {p.name: p.read_bytes() for p in out.glob("*.png")} == local


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True  # gone meanwhile
