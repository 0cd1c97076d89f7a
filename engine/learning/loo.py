"""The leave-one-out IoU estimate that :func:`engine.learning.train.learn` reports."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import torch

from engine.nn.model import SegModel

from .features import full_view_tensor, to_working
from .metrics import IoUAccumulator
from .steps import fit_steps


def loo_estimate(model: SegModel, init_state: dict, bank, images, masks, present, cfg, rng,
                 t0: float, tree_folds: list | None = None):
    """Leave-one-out IoU: per support image, a fresh model trained on the others predicts it.

    ``tree_folds``: per support image, the trees fitted without it (a model with the trees
    path predicts its held-out image with those; see :mod:`engine.learning.trees`).

    Generator (delegates progress of :func:`~engine.learning.steps.fit_steps`); returns
    metadata entries ``loo_iou`` (class name -> IoU in [0, 1], accumulated over all held-out
    pixels), ``loo_miou``, ``loo_per_support`` (one mean foreground IoU in [0, 1] per support
    image, in their order: which examples the others do not cover) and ``loo_steps``.
    """
    k = len(images)
    acc = IoUAccumulator(model.num_classes)
    start = time.perf_counter() - t0
    fold = SegModel(model.classes, model.config, backbone=model.backbone).to(bank.labels.device)
    per_support: list[float | None] = []
    for i in range(k):
        fold.load_state_dict(init_state, strict=False)
        others = [j for j in range(k) if j != i]
        for p in fit_steps(fold, bank, others, present, cfg, rng, t0, cfg.loo_steps, None,
                     phase="validate", student_only=True):
            done = i * cfg.loo_steps + p.step
            left = (k * cfg.loo_steps - done) * (p.elapsed_s - start) / max(done, 1)
            yield replace(p, step=done, total_steps=k * cfg.loo_steps, eta_s=left,
                          message=f"leave-one-out fold {i + 1}/{k}")
        if tree_folds is not None and tree_folds[i] is not None:
            fold.pixel.trees.set(*tree_folds[i])
        x, size = full_view_tensor(images[i], cfg.input_size)
        with torch.no_grad():
            logits = fold.student_logits(x.to(bank.labels.device))
        pred = logits[0, :, : size[0], : size[1]].argmax(0).to(torch.uint8).cpu().numpy()
        _, target = to_working(images[i], masks[i], cfg.input_size)
        acc.add(pred, target)
        one = IoUAccumulator(model.num_classes)
        one.add(pred, target)
        held_out = one.mean()
        per_support.append(None if np.isnan(held_out) else round(held_out, 4))
    per = acc.per_class()
    return {
        "loo_iou": {c.name: (None if np.isnan(v) else round(float(v), 4))
                    for c, v in zip(model.classes, per)},
        "loo_miou": None if np.isnan(acc.mean()) else round(acc.mean(), 4),
        "loo_per_support": per_support,
        "loo_steps": cfg.loo_steps,
    }
