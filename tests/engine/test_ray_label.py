"""``label --ray``: outputs byte-identical to one process on a local Ray (``ray.init(num_cpus=2)``),
resume, and the message when Ray is not installed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import make_sample

from engine.infer.batch import label_folder
from engine.infer.predict import Predictor
from engine.infer.ray_label import RAY_HINT, RayUnavailable, import_ray
from engine.io.outputs import done_logs


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
