"""Episode sampling from the support set only (method.md §4.2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.io.labels import NOT_PAINTED

from .features import FeatureBank


@dataclass
class Episodes:
    """A batch of B episodes: query view indices ``(B,)`` and support view indices ``(B, S)``."""

    query: np.ndarray
    support: np.ndarray


def sample_episodes(bank: FeatureBank, images: list[int], batch: int, shots: int,
                    num_classes: int, rng: np.random.Generator,
                    present: np.ndarray) -> Episodes:
    """Sample ``batch`` episodes among the views of ``images``.

    Leave-one-out: the query is a view of image i and the supports are views of other
    images (``shots`` of them, at most ``len(images) - 1``).  With one image the support is
    another augmented view of the same image.  Paired (several classes): the episode's class
    c cycles, the query and the first support both contain c (``present[i, c]``).
    """
    k = len(images)
    s = max(1, min(shots, k - 1))
    queries, supports = [], []
    for b in range(batch):
        c = int(rng.integers(num_classes))
        with_c = [i for i in images if present[i, c]] or list(images)
        qi = int(rng.choice(with_c))
        others = [i for i in images if i != qi] or [qi]
        first = [i for i in others if present[i, c]] if num_classes > 1 else others
        chosen = [int(rng.choice(first or others))]
        rest = [i for i in others if i != chosen[0]]
        rng.shuffle(rest)
        chosen += rest[: s - 1]
        while len(chosen) < s:
            chosen.append(int(rng.choice(others)))
        queries.append(_random_view(bank, qi, rng))
        supports.append([_random_view(bank, i, rng, exclude=queries[-1]) for i in chosen])
    return Episodes(np.array(queries), np.array(supports))


def _random_view(bank: FeatureBank, image: int, rng: np.random.Generator,
                 exclude: int | None = None) -> int:
    views = bank.views_of([image])
    if exclude is not None and views.size > 1:
        views = views[views != exclude]
    return int(rng.choice(views))


def gather(bank: FeatureBank, ep: Episodes, num_classes: int):
    """Tensors of an episode batch.

    Returns query taps ``(B, C, h, w)``, support taps ``(B, S, C, h, w)``, support masks
    ``(B, S, N, H, W)`` float, query labels ``(B, H, W)`` long (``NOT_PAINTED`` where
    unpainted), and ``present (B, N)`` bool: whether class n appears in the episode's
    supports.  See :func:`support_painted` for the supports' painted pixels.
    """
    q = torch.from_numpy(ep.query).to(bank.labels.device)
    s = torch.from_numpy(ep.support).to(bank.labels.device)
    b, k = s.shape
    # index_select, not f[idx]: advanced indexing takes a ~300x slower path on CPU here.
    fq = [f.index_select(0, q) for f in bank.feats]
    fs = [f.index_select(0, s.flatten()).view(b, k, *f.shape[1:]) for f in bank.feats]
    slab = bank.labels.index_select(0, s.flatten())
    classes = torch.arange(1, num_classes + 1, device=slab.device).view(1, -1, 1, 1)
    masks = (slab.unsqueeze(1) == classes).float().view(b, k, num_classes, *slab.shape[-2:])
    present = masks.flatten(3).amax(3).amax(1) > 0
    return fq, fs, masks, bank.labels.index_select(0, q), present


def support_painted(bank: FeatureBank, ep: Episodes) -> torch.Tensor | None:
    """``(B, S, H, W)`` float, 1 where the episodes' support pixels are painted; None when
    every pixel of the bank is painted (complete masks: the teacher needs no weights)."""
    if not bank.sparse:
        return None
    s = torch.from_numpy(ep.support).to(bank.labels.device)
    slab = bank.labels.index_select(0, s.flatten())
    return (slab != NOT_PAINTED).float().view(*s.shape, *slab.shape[-2:])


def query_views(bank: FeatureBank, ep: Episodes) -> torch.Tensor:
    """The episodes' query views ``(B, 3, H, W)`` uint8."""
    return bank.views.index_select(0, torch.from_numpy(ep.query).to(bank.views.device))


def query_responses(bank: FeatureBank, ep: Episodes) -> torch.Tensor | None:
    """Filter-bank responses ``(B, 45, H/2, W/2)`` of the episodes' queries (or None)."""
    if bank.responses is None:
        return None
    return bank.responses.index_select(0, torch.from_numpy(ep.query).to(bank.responses.device))


def query_tree_probs(bank: FeatureBank, ep: Episodes) -> torch.Tensor | None:
    """Out-of-fold forest probabilities of the episodes' queries (or None)."""
    if bank.tree_probs is None:
        return None
    return bank.tree_probs.index_select(0, torch.from_numpy(ep.query).to(bank.tree_probs.device))
