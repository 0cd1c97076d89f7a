"""The trees pixel path: a forest fitted with scikit-learn, evaluated by the model in torch."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from engine.io.labels import NOT_PAINTED, ClassInfo
from engine.learning.features import build_bank
from engine.learning.trees import MAX_DEPTH, N_TREES, fit_path, fit_trees, tree_labels
from engine.nn.model import HeadConfig, SegModel
from engine.nn.modelfile import load_model, save_model
from engine.nn.pixel import tree_inputs
from engine.nn.trees import CHUNK, TreeEnsemble
from engine.run import drive

sklearn = pytest.importorskip("sklearn.ensemble")


def _samples(seed: int, n: int = 600, classes: int = 2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 45)).astype(np.float32)
    y = (x[:, 3] > 0.2).astype(np.int64) + (classes > 2) * (x[:, 7] > 1.0)
    return x, y


def test_ensemble_gives_the_forests_probabilities():
    x, y = _samples(0)
    trees = TreeEnsemble(2)
    trees.set(*fit_trees([(x, y)], 2, seed=3))
    ref = sklearn.ExtraTreesClassifier(N_TREES, max_depth=MAX_DEPTH, random_state=3).fit(x, y)
    test = np.random.default_rng(1).normal(size=(CHUNK + 500, 45)).astype(np.float32)
    resp = torch.from_numpy(test).T.reshape(1, 45, 1, -1)  # more pixels than one chunk
    got = trees(resp)[0, :, 0].T.numpy()
    np.testing.assert_allclose(got, ref.predict_proba(test), atol=1e-5)
    assert got[:, 1][test[:, 3] > 1].mean() > 0.6
    assert got[:, 1][test[:, 3] < -1].mean() < 0.4


def test_class_missing_from_the_samples_gets_probability_zero():
    x, y = _samples(0)  # classes 0 and 1 only, in a 3-output ensemble (class 2 unseen)
    trees = TreeEnsemble(3)
    trees.set(*fit_trees([(x[:300], y[:300]), (x[300:], y[300:])], 3, seed=0))
    p = trees(torch.from_numpy(x).T.reshape(1, 45, 20, 30))
    assert torch.allclose(p.sum(1), torch.ones(1, 20, 30), atol=1e-5)
    assert p[:, 2].max() == 0


def test_unfitted_ensemble_is_uniform_and_model_files_and_bf16_copies_keep_the_trees(tmp_path):
    model = SegModel([ClassInfo(1, "a")], HeadConfig(pixel_paths="filters+probe+trees")).eval()
    x = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8)
    resp = model.pixel_responses(x)
    assert torch.equal(model.pixel.tree_probs(resp), torch.full((1, 2, 16, 16), 0.5))
    inputs = tree_inputs(resp)
    samples = [(r.flatten(1).T.numpy(), (r[3].flatten() > r[3].median()).long().numpy())
               for r in inputs]
    model.pixel.trees.set(*fit_trees(samples, 2, seed=0))
    low = copy.deepcopy(model).to(dtype=torch.bfloat16)  # what the GPU predictor runs
    assert torch.equal(low.pixel.trees.threshold_bits, model.pixel.trees.threshold_bits)
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.pixel.trees.depth == model.pixel.trees.depth > 0
    with torch.no_grad():
        assert torch.equal(loaded.student_logits(x), model.student_logits(x))
        assert not torch.equal(loaded.pixel.tree_probs(resp), torch.full((1, 2, 16, 16), 0.5))


def test_training_views_see_out_of_fold_trees():
    """Each example's views get the trees fitted on the *other* examples; the model keeps the
    trees fitted on all of them."""
    rng = np.random.default_rng(0)
    images, masks = [], []
    for i in range(3):
        im = rng.integers(0, 60, (96, 96, 3), dtype=np.uint8)
        m = np.zeros((96, 96), np.uint8)
        m[20 + 10 * i:60, 30:70] = 1
        im[m == 1] += 150
        m[:5] = NOT_PAINTED  # unpainted pixels are never samples
        images.append(im)
        masks.append(m)
    model = SegModel([ClassInfo(1, "a")], HeadConfig(pixel_paths="filters+probe+trees")).eval()
    bank = None
    for *_, bank in build_bank(model, images, masks, 96, 64, 6, rng, torch.device("cpu")):
        pass
    folds = drive(fit_path(model, bank, 3, seed=0, t0=0.0))
    full = model.pixel.tree_probs(bank.responses)
    for i in range(3):
        views = torch.from_numpy(bank.views_of([i]))
        other = TreeEnsemble(2)
        other.set(*folds[i])
        assert torch.equal(bank.tree_probs[views], other(tree_inputs(bank.responses[views])))
        assert not torch.equal(bank.tree_probs[views], full[views])
    fg = tree_labels(bank.labels, 2) == 1
    assert bank.tree_probs[:, 1][fg].mean() > 0.8
    assert bank.tree_probs[:, 1][~fg].mean() < 0.2


def test_many_examples_share_at_most_five_left_out_forests(monkeypatch):
    """With 7 examples, 5 groups of examples are left out in turn: 6 fits, not 8 (the cost of
    learning from many examples, e.g. refining on a folder, stays bounded)."""
    import engine.learning.trees as trees_mod

    rng = np.random.default_rng(1)
    images, masks = [], []
    for i in range(7):
        im = rng.integers(0, 60, (64, 64, 3), dtype=np.uint8)
        m = np.zeros((64, 64), np.uint8)
        m[10:40, 10 + 2 * i:40] = 1
        im[m == 1] += 150
        images.append(im)
        masks.append(m)
    fitted = []
    real_fit = trees_mod.fit_trees
    monkeypatch.setattr(trees_mod, "fit_trees", lambda samples, n, seed: fitted.append(
        len(samples)) or real_fit(samples, n, seed))
    model = SegModel([ClassInfo(1, "a")], HeadConfig(pixel_paths="filters+probe+trees")).eval()
    bank = None
    for *_, bank in build_bank(model, images, masks, 64, 64, 28, rng, torch.device("cpu")):
        pass
    folds = drive(fit_path(model, bank, 7, seed=0, t0=0.0))
    assert fitted == [7, 5, 5, 6, 6, 6]  # all, then groups {0,5} {1,6} {2} {3} {4} left out
    assert folds[0] is folds[5] and folds[1] is folds[6] and len({id(f) for f in folds}) == 5


def test_tree_labels_take_the_most_frequent_value_of_each_block():
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[0, :4, :4] = 1  # block (0, 0): class 1 on all 4 sampled pixels
    labels[0, 0, 4] = 2  # block (0, 1): one of 4 sampled pixels is class 2: background wins
    labels[0, 4:, 4:] = NOT_PAINTED  # block (1, 1): unpainted
    labels[0, 4:, :4] = NOT_PAINTED
    labels[0, 4, 0] = labels[0, 6, 0] = labels[0, 4, 2] = 2  # block (1, 0): 3 of 4 class 2
    assert tree_labels(labels, 3).tolist() == [[[1, 0], [2, NOT_PAINTED]]]


def test_learning_with_the_trees_path_end_to_end(tmp_path):
    """learn() fits the trees (progress in a 'trees' phase), the leave-one-out folds run, and
    the saved model predicts the same after loading."""
    from engine.infer.predict import Predictor
    from engine.learning.train import LearnConfig, learn

    rng = np.random.default_rng(0)
    images, masks = [], []
    for i in range(3):
        im = rng.integers(40, 80, (96, 128, 3), dtype=np.uint8)
        yy, xx = np.mgrid[:96, :128]
        disc = (yy - 40 - 8 * i) ** 2 + (xx - 60) ** 2 < 300
        im[disc] = rng.integers(180, 220, (int(disc.sum()), 3), dtype=np.uint8)
        images.append(im)
        masks.append(disc.astype(np.uint8))
    cfg = LearnConfig(max_steps=12, min_steps=12, loo_steps=3, input_size=128, crop=96,
                      total_views=8, head=HeadConfig(pixel_paths="filters+probe+trees"))
    phases = []
    model = drive(learn(images, masks, config=cfg), lambda p: phases.append(p.phase))
    assert phases.count("trees") == 4 and model.pixel.trees.fitted  # 1 + 3 left-out fits
    assert model.metadata["loo_miou"] is not None
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    a = Predictor(model, "cpu").predict(images[0]).labels
    b = Predictor(load_model(path), "cpu").predict(images[0]).labels
    assert np.array_equal(a, b) and (a == masks[0]).mean() > 0.9
