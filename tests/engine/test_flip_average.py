"""Flip averaging (``Predictor(flip_average=True)``): the mean of the four mirrored passes,
mirror-equivariant, part of the model id (a resumed run does not mix the two)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from synthetic import make_sample

from engine.cli.main import main
from engine.infer.batch import label_folder
from engine.infer.predict import Predictor
from engine.io.images import read_mask
from engine.io.resize import pad_to_multiple, resize_image
from engine.learning.metrics import IoUAccumulator
from engine.nn.modelfile import save_model


def _fg(pred) -> np.ndarray:
    """Foreground probability of a one-class prediction."""
    return np.where(pred.labels > 0, pred.confidence, 1 - pred.confidence)


def test_probabilities_are_the_mean_of_the_four_mirrored_passes(disc_model):
    img, _ = make_sample(np.random.default_rng(3), h=100, w=77)
    # Working size 128 x 99, padded to 128 x 128: the padding moves with each mirror image.
    batch = pad_to_multiple(resize_image(img, (128, 99)))[None]
    plain, averaged = Predictor(disc_model, "cpu"), Predictor(disc_model, "cpu",
                                                              flip_average=True)
    mirrored = [(batch, lambda p: p),
                (batch[:, :, ::-1], lambda p: p[..., ::-1]),
                (batch[:, ::-1], lambda p: p[..., ::-1, :]),
                (batch[:, ::-1, ::-1], lambda p: p[..., ::-1, ::-1])]
    expected = np.mean([back(plain._probs(np.ascontiguousarray(x))) for x, back in mirrored], 0)
    got = averaged._probs(batch)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # Not a no-op: the four passes differ on this image.
    assert np.abs(plain._probs(batch) - got).max() > 1e-3


@pytest.mark.parametrize("flip", [lambda a: a[:, ::-1], lambda a: a[::-1],
                                  lambda a: a[::-1, ::-1]])
def test_prediction_of_a_mirror_image_is_the_mirrored_prediction(disc_model, flip):
    # 128 x 96 is the working size itself (no resize, no padding): exact up to float sums.
    img, _ = make_sample(np.random.default_rng(4), h=128, w=96)
    pr = Predictor(disc_model, "cpu", flip_average=True)
    direct, of_mirror = pr.predict(img), pr.predict(flip(img))
    np.testing.assert_allclose(flip(_fg(direct)), _fg(of_mirror), atol=1e-5)
    agree = (flip(direct.labels) == of_mirror.labels).mean()
    assert agree > 0.9999
    # Without averaging the model alone is not mirror-equivariant.
    plain = Predictor(disc_model, "cpu")
    assert np.abs(flip(_fg(plain.predict(img))) - _fg(plain.predict(flip(img)))).max() > 1e-3


def test_flip_averaged_discs_are_found(disc_model):
    rng = np.random.default_rng(21)
    pr = Predictor(disc_model, "cpu", flip_average=True)
    acc = IoUAccumulator(1)
    for _ in range(6):
        img, mask = make_sample(rng)
        acc.add(pr.predict(img).labels, mask)
    assert acc.per_class()[0] > 0.9


def test_two_classes_flip_averaged(two_class_model):
    rng = np.random.default_rng(98)
    pr = Predictor(two_class_model, "cpu", flip_average=True)
    acc = IoUAccumulator(2)
    for _ in range(6):
        img, mask = make_sample(rng, squares=True, n_shapes=4)
        pred = pr.predict(img)
        assert pred.confidence.min() >= 1 / 3 - 1e-6  # the mean of 3-class distributions
        acc.add(pred.labels, mask)
    assert min(acc.per_class()) > 0.85, acc.per_class()


def test_model_id_tells_flip_averaged_outputs_apart(disc_model, tmp_path):
    plain = Predictor(disc_model, "cpu")
    averaged = Predictor(disc_model, "cpu", flip_average=True)
    assert plain.model_id == Predictor(disc_model, "cpu").model_id
    assert averaged.model_id != plain.model_id
    rng = np.random.default_rng(5)
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for i in range(3):
        paths.append(folder / f"im{i}.png")
        Image.fromarray(make_sample(rng)[0]).save(paths[-1])
    out = tmp_path / "out"
    assert {r.status for r in label_folder(plain, paths, out)} == {"labelled"}
    assert {r.status for r in label_folder(plain, paths, out)} == {"resumed"}
    # A rerun with flip averaging redoes the images, then resumes its own outputs.
    assert {r.status for r in label_folder(averaged, paths, out)} == {"labelled"}
    assert {r.status for r in label_folder(averaged, paths, out)} == {"resumed"}


def test_cli_label_and_eval_with_flip_average(disc_model, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    save_model(disc_model, model)
    rng = np.random.default_rng(6)
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(3):
        img, m = make_sample(rng, h=90, w=131)
        Image.fromarray(img).save(images / f"s{i}.png")
        Image.fromarray(m * 255).save(masks / f"s{i}.png")
    assert main(["label", "--model", str(model), "--input", str(images), "--output",
                 str(tmp_path / "out"), "--flip-average"]) == 0
    assert read_mask(tmp_path / "out" / "s0.png").shape == (90, 131)
    capsys.readouterr()
    assert main(["eval", "--model", str(model), "--images", str(images), "--masks", str(masks),
                 "--flip-average"]) == 0
    mean = float(capsys.readouterr().out.strip().splitlines()[-1].split()[2])
    assert mean > 85.0
