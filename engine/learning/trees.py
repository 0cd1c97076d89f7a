"""Fitting the trees pixel path (:mod:`engine.nn.trees`) on the painted support pixels.

Extremely randomised trees (scikit-learn's ``ExtraTreesClassifier``, 32 trees of depth <= 12)
on the filter-bank responses at the decoder's finest stride, up to ``PER_IMAGE`` painted pixels
sampled per example (only painted ones: scribbles train it the way ilastik is trained).  On
nuclei seed 1 (80 test images) 32 extra trees of depth 12 gave 71.4 against 71.5 for a 100-tree
random forest, fitted in 0.8 s against 18 s on 2 cores.

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

from collections.abc import Sequence

import numpy as np
import torch

from engine.io.labels import NOT_PAINTED
from engine.nn.model import SegModel

from .features import FeatureBank

N_TREES = 32
MAX_DEPTH = 12
PER_IMAGE = 20_000  # pixels sampled per example ...
MAX_SAMPLES = 100_000  # ... and in all (many examples: refine on the folder, K = 10)
MAX_FOLDS = 5  # out-of-fold trees: examples split into at most this many groups


def sample_pixels(bank: FeatureBank, examples: int, rng: np.random.Generator,
                  per_image: int = PER_IMAGE) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per example, ``(X (P, 45) float32, y (P,) int)``: up to ``per_image`` painted pixels of
    its training views (augmented like the network's: the trees learn the same invariances,
    and their out-of-fold probabilities on the views are as good as they are on new images),
    at the filter bank's stride (labels sampled at each 2x2 block's top-left pixel)."""
    out = []
    for i in range(examples):
        views = torch.from_numpy(bank.views_of([i])).to(bank.responses.device)
        r = bank.responses.index_select(0, views)
        y = bank.labels.index_select(0, views)[:, ::2, ::2].reshape(-1).cpu().numpy()
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
    from sklearn.ensemble import ExtraTreesClassifier

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


def fit_path(model: SegModel, bank: FeatureBank, examples: int, seed: int
             ) -> list[tuple[torch.Tensor, ...] | None]:
    """Fit the model's trees on all examples and set ``bank.tree_probs`` to out-of-fold
    probabilities; returns per example the trees fitted without it (``[i]``; the
    leave-one-out folds predict their held-out example with them).

    Up to :data:`MAX_FOLDS` examples each are left out (example i in group ``i % folds``):
    at most ``MAX_FOLDS + 1`` fits on at most :data:`MAX_SAMPLES` pixels, however many
    examples there are."""
    ensemble = model.pixel.trees
    rng = np.random.default_rng(seed)
    per_image = max(1_000, min(PER_IMAGE, MAX_SAMPLES // examples))
    samples = sample_pixels(bank, examples, rng, per_image)
    full = fit_trees(samples, ensemble.num_outputs, seed)
    groups = min(examples, MAX_FOLDS)
    left_out = [fit_trees([s for j, s in enumerate(samples) if j % groups != g],
                          ensemble.num_outputs, seed) for g in range(groups)] \
        if examples > 1 else [None]
    folds = [left_out[i % groups] for i in range(examples)]
    probs = torch.empty(bank.responses.shape[0], ensemble.num_outputs,
                        *bank.responses.shape[-2:], device=bank.responses.device)
    for i in range(examples):
        ensemble.set(*(folds[i] or full))  # one example: no fold to leave out
        views = torch.from_numpy(bank.views_of([i])).to(probs.device)
        probs[views] = ensemble(bank.responses.index_select(0, views))
    ensemble.set(*full)
    bank.tree_probs = probs
    return folds
