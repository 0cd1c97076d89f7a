"""The training steps shared by :func:`engine.learning.train.learn` and the leave-one-out folds.

:func:`fit_steps` trains a model on episodes of the cached support features and yields a
:class:`~engine.learning.config.LearnProgress` after every optimiser step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator

import numpy as np
import torch

from engine.io.labels import NOT_PAINTED
from engine.nn.device import autocast_dtype
from engine.nn.head import merge_binary_logits, upsample
from engine.nn.model import SegModel, trainable_parameters
from engine.nn.pixel import combine

from .config import LearnConfig, LearnProgress
from .episodes import (
    gather,
    query_responses,
    query_tree_probs,
    query_views,
    sample_episodes,
    support_painted,
)
from .features import FeatureBank
from .losses import (
    affinity_loss,
    coarse_mse,
    dice_loss,
    focal_loss,
    unpainted_background_loss,
)
from .optim import AdamW


def fit_steps(model: SegModel, bank: FeatureBank, image_ids: list[int], present: np.ndarray,
         cfg: LearnConfig, rng: np.random.Generator, t0: float, max_steps: int,
         budget: float | None, phase: str = "train",
         student_only: bool = False) -> Generator[LearnProgress, None, int]:
    """Train ``model`` on episodes from ``image_ids``; yields after each step; returns steps."""
    model.train()
    params = trainable_parameters(model)
    opt = AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, ema, best, best_step = time.perf_counter(), None, float("inf"), 0
    amp = autocast_dtype(bank.labels.device) if cfg.mixed_precision else None
    for step in range(1, max_steps + 1):
        # Cosine decay of the learning rate over the steps (never over time: the model must
        # not depend on the machine's load).  The short student-only leave-one-out folds
        # keep the full rate: decay would halve their little training.
        if not student_only:
            cosine = 0.5 * (1 + math.cos(math.pi * (step - 1) / max_steps))
            opt.lr = cfg.lr * (cfg.lr_floor + (1 - cfg.lr_floor) * cosine)
        ep = sample_episodes(bank, image_ids, cfg.loo_batch if student_only else
                             cfg.batch_episodes, cfg.shots_per_episode, model.num_classes,
                             rng, present)
        with torch.autocast(bank.labels.device.type, dtype=amp, enabled=amp is not None):
            if student_only:
                parts = _student_loss(model, bank, ep)
            else:
                parts = _episode_loss(model, bank, ep, cfg)
        loss = ((parts[0] + parts[1] + parts[2]) / 3 + cfg.dice_weight * parts[3]
                + cfg.aux_weight * parts[4])
        if bank.sparse and cfg.affinity_weight > 0:
            loss = loss + cfg.affinity_weight * affinity_loss(parts[5], query_views(bank, ep))
        if bank.sparse and cfg.unpainted_bg > 0:
            loss = loss + cfg.unpainted_bg * unpainted_background_loss(
                parts[5], parts[6], soft=cfg.unpainted_bg_soft)
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = float(loss.detach())
        ema = value if ema is None else 0.95 * ema + 0.05 * value
        if ema < best * 0.995:
            best, best_step = ema, step
        spent = time.perf_counter() - start
        remaining = (max_steps - step) * spent / step
        yield LearnProgress(phase, step, max_steps, value, time.perf_counter() - t0, remaining,
                            f"step {step}", *(float(p.detach()) for p in parts[:3]))
        if budget is not None and spent >= budget:
            break
        if step >= cfg.min_steps and step - best_step > cfg.patience:
            break
    model.eval()
    return step


def _episode_loss(model: SegModel, bank: FeatureBank, ep, cfg: LearnConfig):
    """(focal teacher, focal student, coarse MSE, Dice) for one batch of episodes."""
    n = model.num_classes
    fq, fs, ms, target, present = gather(bank, ep, n)
    size = tuple(target.shape[-2:])
    t_coarse = model.teacher_coarse(fq, fs, ms, support_painted(bank, ep))
    s_coarse = model.student_coarse(fq)
    paths = model.pixel_paths(query_responses(bank, ep), fq, query_tree_probs(bank, ep))
    extra = combine(paths)
    # One decoder pass over teacher and student maps together (bigger batches run faster).
    both = {k: torch.cat([t_coarse[k], s_coarse[k]]) for k in t_coarse}
    t_logits, s_logits = model.decode(both, [torch.cat([f, f]) for f in fq], size,
                                      None if extra is None else torch.cat([extra, extra])
                                      ).chunk(2)
    # Classes with no shot in this episode's supports cannot be found by the teacher:
    # mask their logits and count their pixels as background for the teacher's loss.
    absent = ~present
    if absent.any():
        t_logits = t_logits.clone()
        t_logits[:, 1:][absent] = -1e4
        drop = absent.gather(1, (target - 1).clamp(0, n - 1).flatten(1)).view_as(target)
        is_class = (target > 0) & (target != NOT_PAINTED)
        t_target = torch.where(is_class & drop, torch.zeros_like(target), target)
    else:
        t_target = target
    # Unpainted pixels are the same in both targets; complete masks have none (no look).
    painted = (target != NOT_PAINTED) if bank.sparse else None
    dice = (dice_loss(t_logits, t_target, painted) + dice_loss(s_logits, target, painted)) / 2
    return (focal_loss(t_logits, t_target, painted=painted),
            focal_loss(s_logits, target, painted=painted),
            coarse_mse(t_coarse, s_coarse), dice, _paths_loss(paths, target, painted), s_logits,
            target)


def _paths_loss(paths: dict, target: torch.Tensor, painted: torch.Tensor | None
                ) -> torch.Tensor:
    """Mean of focal + Dice of each trained pixel path alone (zero without pixel paths; the
    trees path is fitted, not trained, so it has no loss of its own)."""
    paths = {k: v for k, v in paths.items() if k != "trees"}
    if not paths:
        return target.new_zeros((), dtype=torch.float32)
    total = 0.0
    for logits in paths.values():
        merged = upsample(merge_binary_logits(logits), tuple(target.shape[-2:]))
        total = (total + focal_loss(merged, target, painted=painted)
                 + dice_loss(merged, target, painted))
    return total / len(paths)


def _student_loss(model: SegModel, bank: FeatureBank, ep):
    """Student-only objective (focal counted 3x to keep the loss scale, + Dice)."""
    fq, _, _, target, _ = gather(bank, ep, model.num_classes)
    paths = model.pixel_paths(query_responses(bank, ep), fq, query_tree_probs(bank, ep))
    extra = combine(paths)
    logits = model.decode(model.student_coarse(fq), fq, tuple(target.shape[-2:]), extra)
    painted = (target != NOT_PAINTED) if bank.sparse else None
    focal = focal_loss(logits, target, painted=painted)
    zero = focal.new_zeros(())
    return (focal * 3, zero, zero, dice_loss(logits, target, painted),
            _paths_loss(paths, target, painted), logits, target)
