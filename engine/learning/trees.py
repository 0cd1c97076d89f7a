"""Fitting the trees pixel path (:mod:`engine.nn.trees`) on the painted support pixels.

Extremely randomised trees (scikit-learn's ``ExtraTreesClassifier``, 16 trees of depth <= 12)
on the filter-bank responses at the trees' stride (:func:`engine.nn.pixel.tree_inputs`), up to
``PER_IMAGE`` painted pixels sampled per example (only painted ones: scribbles train it the
way ilastik is trained).  Extra trees fit in a fraction of a random forest's time for about
the same accuracy on the filter bank; fewer, shallower trees or a coarser stride cost
accuracy (``benchmarks/results/trees-path-cost.md``).

The trees' log-odds enter the model as they are (:class:`engine.nn.pixel.PixelPaths`): with
the other paths at zero the model *is* the forest.  The other paths learn what the trees get
wrong, so the training views must see trees as wrong as they are on new images: trees fitted on
a view's own pixels would look perfect there, so each view gets **out-of-fold** probabilities,
those of trees fitted on the *other* examples' views (stacking).  The trees are fitted on the
augmented training views (the same invariances as the network).  The model keeps the trees
fitted on all examples.

A weight on the trees, learned with the other paths or fitted on the out-of-fold
probabilities, was measured and not kept (``benchmarks/results/trees-path-weight.md``): both
trusted the trees far less than they deserve on new images.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence

import numpy as np
import torch

from engine.io.labels import NOT_PAINTED
from engine.nn.model import SegModel
from engine.nn.pixel import tree_inputs

from .config import LearnProgress
from .features import FeatureBank

N_TREES = 16
MAX_DEPTH = 12
PER_IMAGE = 20_000  # pixels sampled per example ...
MAX_SAMPLES = 100_000  # ... and in all (many examples: refine on the folder, K = 10)
MAX_FOLDS = 5  # out-of-fold trees: examples split into at most this many groups


def tree_labels(labels: torch.Tensor, num_outputs: int) -> torch.Tensor:
    """``(V, H, W)`` view labels -> ``(V, h', w')`` at the trees' stride (the filter
    responses' grid, then :func:`~engine.nn.pixel.tree_inputs`'s 2x2 blocks): the most frequent
    value of each block, "not painted" included (such blocks are not sampled)."""
    y = labels[:, ::2, ::2]
    unpainted = y == NOT_PAINTED
    y = torch.where(unpainted, torch.full_like(y, num_outputs), y)
    onehot = torch.nn.functional.one_hot(y, num_outputs + 1).permute(0, 3, 1, 2).float()
    best = torch.nn.functional.avg_pool2d(onehot, 2, ceil_mode=True).argmax(1)
    return torch.where(best == num_outputs, torch.full_like(best, NOT_PAINTED), best)


def sample_pixels(bank: FeatureBank, examples: int, num_outputs: int,
                  rng: np.random.Generator, per_image: int = PER_IMAGE
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per example, ``(X (P, 45) float32, y (P,) int)``: up to ``per_image`` painted pixels of
    its training views (augmented like the network's: the trees learn the same invariances,
    and their out-of-fold probabilities on the views are as good as they are on new images),
    at the trees' stride (:func:`engine.nn.pixel.tree_inputs`, :func:`tree_labels`)."""
    out = []
    for i in range(examples):
        views = torch.from_numpy(bank.views_of([i])).to(bank.responses.device)
        r = tree_inputs(bank.responses.index_select(0, views))
        y = tree_labels(bank.labels.index_select(0, views), num_outputs).reshape(-1)
        y = y.cpu().numpy()
        feats = r.permute(0, 2, 3, 1).reshape(-1, r.shape[1])
        painted = np.flatnonzero(y != NOT_PAINTED)
        keep = np.sort(rng.choice(painted, size=min(per_image, painted.size), replace=False))
        index = torch.from_numpy(keep).to(feats.device)
        out.append((feats.index_select(0, index).cpu().numpy(), y[keep].astype(np.int64)))
    return out


def fit_trees(samples: Sequence[tuple[np.ndarray, np.ndarray]], num_outputs: int, seed: int
              ) -> tuple[torch.Tensor, ...] | None:
    """Fit the forest on the pooled samples; the tensors of :meth:`TreeEnsemble.set` (with
    the depth last), or None when the samples hold no pixel."""
    try:
        from sklearn.ensemble import ExtraTreesClassifier
    except ImportError:  # a test extra, not a run-time dependency (the path is optional)
        raise ValueError("the trees pixel path needs scikit-learn: pip install scikit-learn"
                         ) from None

    x = np.concatenate([s[0] for s in samples]).astype(np.float32)
    y = np.concatenate([s[1] for s in samples])
    if len(y) == 0:
        return None
    forest = ExtraTreesClassifier(N_TREES, max_depth=MAX_DEPTH, random_state=seed, n_jobs=-1)
    forest.fit(x, y)
    trees = [e.tree_ for e in forest.estimators_]
    m = max(t.node_count for t in trees)
    feature = np.zeros((len(trees), m), np.int32)
    threshold = np.zeros((len(trees), m), np.float32)
    children = np.tile(np.arange(m, dtype=np.int32)[None, :, None], (len(trees), 1, 2))
    value = np.zeros((len(trees), m, num_outputs), np.float32)
    cols = forest.classes_.astype(np.int64)
    for i, t in enumerate(trees):
        n = t.node_count
        inner = t.children_left[:n] >= 0
        feature[i, :n] = np.where(inner, t.feature[:n], 0)
        threshold[i, :n] = np.where(inner, t.threshold[:n], 0)
        children[i, :n, 0] = np.where(inner, t.children_left[:n], np.arange(n))
        children[i, :n, 1] = np.where(inner, t.children_right[:n], np.arange(n))
        v = t.value[:n, 0, :]
        value[i, :n][:, cols] = v / np.maximum(v.sum(1, keepdims=True), 1e-12)
    depth = max(t.max_depth for t in trees)
    return (torch.from_numpy(feature), torch.from_numpy(threshold), torch.from_numpy(children),
            torch.from_numpy(value), depth)


def fit_path(model: SegModel, bank: FeatureBank, examples: int, seed: int, t0: float
             ) -> Generator[LearnProgress, None, list[tuple[torch.Tensor, ...] | None]]:
    """Fit the model's trees on all examples and set ``bank.tree_probs`` to out-of-fold
    probabilities.  Generator: yields progress after each fit (a cancel point; ``t0``: the
    learner's start, for the elapsed time); returns per example the trees fitted without it
    (``[i]``; the leave-one-out folds predict their held-out example with them).

    Up to :data:`MAX_FOLDS` examples each are left out (example i in group ``i % folds``):
    at most ``MAX_FOLDS + 1`` fits on at most :data:`MAX_SAMPLES` pixels, however many
    examples there are."""
    ensemble = model.pixel.trees
    rng = np.random.default_rng(seed)
    per_image = max(1_000, min(PER_IMAGE, MAX_SAMPLES // examples))
    samples = sample_pixels(bank, examples, ensemble.num_outputs, rng, per_image)
    groups = min(examples, MAX_FOLDS) if examples > 1 else 0
    full = fit_trees(samples, ensemble.num_outputs, seed)
    yield _fitted(1, groups + 1, t0)
    left_out: list[tuple[torch.Tensor, ...] | None] = []
    for g in range(groups):
        left_out.append(fit_trees([s for j, s in enumerate(samples) if j % groups != g],
                                  ensemble.num_outputs, seed))
        yield _fitted(g + 2, groups + 1, t0)
    folds = [left_out[i % groups] if groups else None for i in range(examples)]
    inputs = tree_inputs(bank.responses)
    probs = torch.empty(inputs.shape[0], ensemble.num_outputs, *inputs.shape[-2:],
                        device=inputs.device)
    for i in range(examples):
        ensemble.set(*(folds[i] or full))  # one example: no fold to leave out
        views = torch.from_numpy(bank.views_of([i])).to(probs.device)
        probs[views] = ensemble(inputs.index_select(0, views))
    ensemble.set(*full)
    bank.tree_probs = probs
    return folds


def _fitted(done: int, total: int, t0: float) -> LearnProgress:
    return LearnProgress("trees", done, total, float("nan"), time.perf_counter() - t0, None,
                         f"fitted the trees {done}/{total}")
