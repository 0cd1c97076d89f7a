"""Losses of the DistillFSS objective (method.md §4.5) plus a soft Dice term."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Multi-class focal loss; ``logits (B, 1+N, H, W)``, ``target (B, H, W)`` long."""
    ce = F.cross_entropy(logits.float(), target, reduction="none")
    pt = torch.exp(-ce)
    return ((1 - pt) ** gamma * ce).mean()


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Soft Dice over the foreground classes, pooled over the batch.

    Not in the paper: added because focal alone under-segments classes covering < 2 % of the
    image (cracks, tile defects), which is common for our users.
    """
    n = logits.shape[1]
    probs = logits.float().softmax(1)[:, 1:]
    onehot = F.one_hot(target, n).permute(0, 3, 1, 2)[:, 1:].float()
    inter = (probs * onehot).sum((0, 2, 3))
    denom = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    return (1 - (2 * inter + 1) / (denom + 1)).mean()


def coarse_mse(teacher: dict[int, torch.Tensor], student: dict[int, torch.Tensor]) -> torch.Tensor:
    """Mean over strides of the element-mean MSE between teacher and student coarse maps.

    Nothing is detached (as in the paper): the term also pulls the teacher towards the student.
    """
    return torch.stack([F.mse_loss(student[s].float(), teacher[s].float())
                        for s in teacher]).mean()
