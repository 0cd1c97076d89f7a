"""Input checks for the support set and the leave-one-out IoU estimate."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Sequence

import numpy as np
import torch

from .features import full_view_tensor, to_working
from .labels import has_painting, num_classes
from .metrics import IoUAccumulator
from .model import ClassInfo, SegModel


def check_support_set(images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                      classes: Sequence[ClassInfo]) -> None:
    """Raise ``ValueError`` with a plain message if the support set cannot be learned from."""
    if len(images) == 0:
        raise ValueError("no support images: paint at least one mask first")
    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images but {len(masks)} masks")
    ids = [c.id for c in classes]
    if ids != list(range(1, len(classes) + 1)):
        raise ValueError(f"class ids must be 1..N in order, got {ids}")
    for k, (im, m) in enumerate(zip(images, masks)):
        if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
            raise ValueError(f"support image {k}: expected (H, W, 3) uint8, got {im.shape} {im.dtype}")
        if m.shape != im.shape[:2]:
            raise ValueError(f"support {k}: mask size {m.shape[::-1]} != image size {im.shape[1::-1]}")
        top = num_classes([m])
        if top > len(classes):
            raise ValueError(f"support {k}: mask has class id {top} but only "
                             f"{len(classes)} class(es) are defined")
        if not has_painting(m):
            raise ValueError(f"support {k}: nothing is painted on it")
    for c in classes:
        if not any((m == c.id).any() for m in masks):
            raise ValueError(f"class '{c.name}' is not painted in any support image")


def loo_estimate(model: SegModel, init_state: dict, bank, images, masks, present, cfg, rng,
                 t0: float, fit):
    """Leave-one-out IoU: per support image, a fresh model trained on the others predicts it.

    Generator (delegates progress of ``fit``); returns metadata entries ``loo_iou`` (class
    name -> IoU in [0, 1], accumulated over all held-out pixels), ``loo_miou``,
    ``loo_per_support`` (one mean foreground IoU in [0, 1] per support image, in their order:
    which examples the others do not cover) and ``loo_steps``.
    """
    k = len(images)
    acc = IoUAccumulator(model.num_classes)
    start = time.perf_counter() - t0
    fold = SegModel(model.classes, model.config, backbone=model.backbone).to(bank.labels.device)
    per_support: list[float | None] = []
    for i in range(k):
        fold.load_state_dict(init_state, strict=False)
        others = [j for j in range(k) if j != i]
        for p in fit(fold, bank, others, present, cfg, rng, t0, cfg.loo_steps, None,
                     phase="validate", student_only=True):
            done = i * cfg.loo_steps + p.step
            left = (k * cfg.loo_steps - done) * (p.elapsed_s - start) / max(done, 1)
            yield replace(p, step=done, total_steps=k * cfg.loo_steps, eta_s=left,
                          message=f"leave-one-out fold {i + 1}/{k}")
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
