"""Refine on the folder: self-training on confident pseudo-labels (engine.refine)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import FAST, run
from PIL import Image
from synthetic import make_sample, make_set

from engine.cli.main import main
from engine.infer.predict import Predictor
from engine.io.labels import NOT_PAINTED, ClassInfo
from engine.learning.metrics import IoUAccumulator
from engine.learning.train import learn
from engine.nn.modelfile import load_model
from engine.refine import RefineConfig, pseudo_label, refine, spread

DISC = [ClassInfo(1, "disc", (255, 0, 0))]
SHORT = replace(FAST, max_steps=12, min_steps=12, total_views=8)
SETTINGS = RefineConfig(steps=24, max_images=6)


def _weights(model) -> torch.Tensor:
    return torch.cat([v.flatten().float() for v in model.trainable_state().values()])


def _iou(model, images, masks) -> float:
    acc, predictor = IoUAccumulator(1), Predictor(model, "cpu")
    for im, m in zip(images, masks):
        acc.add(predictor.predict(im).labels, m)
    return acc.mean()


@pytest.fixture(scope="module")
def weak():
    """A model trained too briefly on 2 examples: room for the folder to teach it."""
    images, masks = make_set(0, 2)
    _, model = run(learn(images, masks, DISC, SHORT))
    return images, masks, model


def test_pseudo_label_keeps_only_confident_pixels() -> None:
    labels = np.array([[0, 1, 1], [0, 2, 0]], np.uint8)
    conf = np.array([[0.95, 0.5, 0.9], [0.89, 0.99, 0.2]], np.float32)
    assert pseudo_label(labels, conf, 0.9).tolist() == [[0, NOT_PAINTED, 1],
                                                       [NOT_PAINTED, 2, NOT_PAINTED]]


def test_spread_is_even_and_deterministic() -> None:
    assert spread(3, 8) == [0, 1, 2]
    assert spread(100, 5) == [0, 25, 50, 74, 99]


def test_refine_learns_from_the_folder(weak) -> None:
    images, masks, model = weak
    folder, _ = make_set(5, 12)
    recs, refined = run(refine(model, images, masks, [lambda im=im: im for im in folder],
                               SHORT, SETTINGS))
    assert [r.phase for r in recs][:6] == ["pseudo"] * 6
    info = refined.metadata["refine"]
    assert info["images"] >= 4 and info["examples"] == 2 and info["unreadable"] == 0
    # What describes the examples stays the learned model's.
    assert refined.metadata["support_hashes"] == model.metadata["support_hashes"]
    assert refined.metadata["total_steps"] == model.metadata["steps"] + 24
    test, test_truth = make_set(99, 6)
    before, after = _iou(model, test, test_truth), _iou(refined, test, test_truth)
    assert after > before + 0.02, (before, after)
    # Deterministic: the same inputs give the same weights.
    _, again = run(refine(model, images, masks, [lambda im=im: im for im in folder],
                          SHORT, SETTINGS))
    assert torch.equal(_weights(again), _weights(refined))


def test_refine_continues_the_models_own_head(weak) -> None:
    from engine.learning.config import LearnConfig

    images, masks, model = weak
    folder, _ = make_set(5, 2)
    other = replace(SHORT, head=replace(LearnConfig().head, pixel_paths="none"))
    assert other.head != model.config  # e.g. a model of another backbone, refined by the app
    _, refined = run(refine(model, images, masks, [lambda im=im: im for im in folder], other,
                            replace(SETTINGS, steps=2, max_images=2)))
    assert refined.config == model.config


def test_refine_skips_unreadable_images_and_says_when_nothing_is_confident(weak) -> None:
    images, masks, model = weak
    folder, _ = make_set(5, 3)

    def broken():
        raise OSError("truncated file")

    loaders = [broken, *[lambda im=im: im for im in folder]]
    _, refined = run(refine(model, images, masks, loaders, SHORT, replace(SETTINGS, steps=4)))
    assert refined.metadata["refine"]["unreadable"] == 1
    with pytest.raises(ValueError, match="confidently"):
        run(refine(model, images, masks, loaders, SHORT, replace(SETTINGS, confidence=1.01)))


def test_cli_learn_refine_on(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    for sub in ("images", "masks", "folder"):
        (tmp_path / sub).mkdir()
    for i in range(3):
        img, m = make_sample(rng)
        Image.fromarray(img).save(tmp_path / "images" / f"s{i}.png")
        Image.fromarray(m * 255).save(tmp_path / "masks" / f"s{i}.png")
    for i in range(4):
        Image.fromarray(make_sample(rng)[0]).save(tmp_path / "folder" / f"f{i}.png")
    args = ["learn", "--images", str(tmp_path / "images"), "--masks", str(tmp_path / "masks"),
            "--shots", "3", "--out", str(tmp_path / "m.dfss"), "--input-size", "128",
            "--max-steps", "8", "--no-loo", "--refine-steps", "6"]
    # Refused before learning anything: a missing folder, a folder of only the examples
    # (they are not pseudo-labelled), a step count of 0.
    assert main([*args, "--refine-on", str(tmp_path / "nowhere")]) != 0
    assert "--refine-on folder not found" in capsys.readouterr().err
    assert main([*args, "--refine-on", str(tmp_path / "images")]) != 0
    assert "besides the examples" in capsys.readouterr().err
    assert main([*args, "--refine-on", str(tmp_path / "folder"), "--refine-steps", "0"]) != 0
    assert not (tmp_path / "m.dfss").exists()
    assert main([*args, "--refine-on", str(tmp_path / "folder")]) == 0
    assert "refined model saved" in capsys.readouterr().out
    meta = load_model(tmp_path / "m.dfss").metadata
    assert meta["refine"]["images"] >= 1 and meta["refine"]["steps"] == 6
    assert len(meta["support_files"]) == 3
