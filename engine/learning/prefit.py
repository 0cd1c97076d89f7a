"""Fit the filter-bank path alone before the joint training (a warm start for one expert).

The filter path (:class:`engine.nn.pixel.PixelPaths`, a small per-pixel MLP on the filter bank)
is meant to contain what a forest on the same filters does (ilastik's classifier).  Trained
only jointly, for the 150 steps the whole head gets, on a few crops per step, it stays far
from fitted: on a nuclei draw where the forest scores well above the student, the filter path
alone scored well under the forest although it sees the same responses
(``benchmarks/results/prefit.md``).  A per-pixel MLP is cheap to fit by itself: here it is
trained alone, full-batch, on up to ``pixels`` sampled painted pixels of the cached views, for
``steps`` Adam steps (a few seconds on a CPU), then the joint training continues from it.

Deterministic (``rng`` draws the pixels; the fit is full-batch).  Unpainted pixels
(scribbles) are never sampled.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from engine.io.labels import NOT_PAINTED
from engine.nn.head import merge_binary_logits
from engine.nn.model import SegModel

from .features import FeatureBank
from .optim import AdamW


def sample_filter_pixels(bank: FeatureBank, views: np.ndarray, pixels: int,
                         rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(P, 45)`` raw filter responses and ``(P,)`` labels of up to ``pixels`` painted pixels
    of ``views`` at the responses' stride (None without responses or painted pixels)."""
    if bank.responses is None or views.size == 0:
        return None
    idx = torch.from_numpy(views).to(bank.responses.device)
    resp = bank.responses.index_select(0, idx)  # (V, C, h, w)
    h, w = resp.shape[-2:]
    labels = bank.labels.index_select(0, idx)
    stride = labels.shape[-1] // w
    grid = labels[:, stride // 2::stride, stride // 2::stride][:, :h, :w]  # pixel centres
    flat = grid.flatten()
    painted = torch.nonzero(flat != NOT_PAINTED).flatten().cpu().numpy()
    if painted.size == 0:
        return None
    keep = np.sort(rng.choice(painted, size=min(pixels, painted.size), replace=False))
    keep_t = torch.from_numpy(keep).to(resp.device)
    x = resp.permute(0, 2, 3, 1).reshape(-1, resp.shape[1]).index_select(0, keep_t)
    return x, flat.index_select(0, keep_t)


def prefit_filter_path(model: SegModel, bank: FeatureBank, image_ids: list[int],
                       rng: np.random.Generator, steps: int = 200, pixels: int = 40_000,
                       lr: float = 1e-2) -> bool:
    """Fit the filter path's MLP alone on pixels of ``image_ids``' views (cross-entropy of its
    merged logits); True when it ran (a model with the path and painted pixels)."""
    if model.pixel is None or steps <= 0 or "filters" not in model.config.pixel_paths:
        return False
    sample = sample_filter_pixels(bank, bank.views_of(image_ids), pixels, rng)
    if sample is None:
        return False
    x, y = sample
    paths = model.pixel
    x = ((x - paths.filter_mean.flatten()) / paths.filter_std.flatten())[:, :, None, None]
    mlp = paths.mlp
    params = list(mlp.parameters())
    opt = AdamW(params, lr=lr, weight_decay=0.0)
    n = model.num_classes
    mlp.train()
    for _ in range(steps):
        logits = mlp(x.to(mlp[0].weight.dtype)).view(x.shape[0], n, 2, 1, 1)
        loss = F.cross_entropy(merge_binary_logits(logits).flatten(1).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    mlp.eval()
    return True
