"""Losses of the DistillFSS objective (method.md §4.5) plus a soft Dice term.

Target pixels equal to :data:`engine.io.labels.NOT_PAINTED` carry no label: focal and Dice
skip them (zero gradient there).  With no such pixel the computation is exactly the one for
complete masks.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from engine.io.labels import NOT_PAINTED

FROM_TARGET = object()  # default of ``painted``: look at the target (one device sync)


def _painted(target: torch.Tensor, painted: object) -> torch.Tensor | None:
    """Bool map of labelled pixels, or None when every pixel is labelled.

    ``painted`` given by the caller (a map, or None when it knows every pixel is labelled:
    complete masks) saves the look at the whole target and, on a GPU, a sync per loss."""
    if painted is not FROM_TARGET:
        return painted  # type: ignore[return-value]
    valid = target != NOT_PAINTED
    return None if bool(valid.all()) else valid


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
               painted: object = FROM_TARGET) -> torch.Tensor:
    """Multi-class focal loss; ``logits (B, 1+N, H, W)``, ``target (B, H, W)`` long; mean over
    the painted pixels (zero when none is painted; ``painted``: see :func:`_painted`)."""
    valid = _painted(target, painted)
    if valid is None:
        ce = F.cross_entropy(logits.float(), target, reduction="none")
        pt = torch.exp(-ce)
        return ((1 - pt) ** gamma * ce).mean()
    ce = F.cross_entropy(logits.float(), target, reduction="none", ignore_index=NOT_PAINTED)
    pt = torch.exp(-ce)
    return ((1 - pt) ** gamma * ce).sum() / valid.sum().clamp(min=1)


def dice_loss(logits: torch.Tensor, target: torch.Tensor,
              painted: object = FROM_TARGET) -> torch.Tensor:
    """Soft Dice over the foreground classes, pooled over the batch (painted pixels only;
    ``painted``: see :func:`_painted`).

    Not in the paper: added because focal alone under-segments classes covering < 2 % of the
    image (cracks, tile defects), which is common for our users.
    """
    n = logits.shape[1]
    probs = logits.float().softmax(1)[:, 1:]
    valid = _painted(target, painted)
    if valid is not None:
        target = torch.where(valid, target, torch.zeros_like(target))
        probs = probs * valid.unsqueeze(1)
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


def affinity_loss(logits: torch.Tensor, images: torch.Tensor, radius: int = 2,
                  sigma: float = 0.1, stride: int = 2) -> torch.Tensor:
    """Neighbouring pixels of similar colour should get the same class (sparse labels).

    With scribbles, the pixels between the strokes have no label, and the decoder's
    smooth upsampling then draws soft, misplaced boundaries.  This term (a local "gated CRF"
    / normalised-cut style regulariser, as used for scribble-supervised segmentation) asks
    for the class distributions of pixels within ``radius`` (at ``stride``) to agree, weighted
    by ``exp(-|rgb_i - rgb_j|^2 / 2 sigma^2)`` (colours in [0, 1]): boundaries move to colour
    edges.  ``logits (B, 1+N, H, W)``, ``images (B, 3, H, W)`` uint8 of the same views.
    """
    probs = logits.float().softmax(1)
    img = images.float() / 255.0
    if stride > 1:
        probs = F.avg_pool2d(probs, stride)
        img = F.avg_pool2d(img, stride)
    h, w = probs.shape[-2:]
    total = probs.new_zeros(())
    weight = probs.new_zeros(())
    for dy in range(radius + 1):
        for dx in range(-radius, radius + 1):
            if dy == 0 and dx <= 0:
                continue  # each unordered pair once
            ya, yb = slice(0, h - dy), slice(dy, h)
            xa, xb = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w),
                                                                      slice(0, w + dx))
            diff = ((img[..., ya, xa] - img[..., yb, xb]) ** 2).sum(1)
            wgt = torch.exp(-diff / (2 * sigma * sigma))
            agree = (probs[..., ya, xa] * probs[..., yb, xb]).sum(1)
            total = total + (wgt * (1 - agree)).sum()
            weight = weight + wgt.sum()
    return total / weight.clamp(min=1e-6)


def unpainted_background_loss(logits: torch.Tensor, target: torch.Tensor,
                              soft: bool = False) -> torch.Tensor:
    """Cross-entropy towards background at the *unpainted* pixels (zero when none is).

    A weak prior for scribbles: most of an image that nobody painted is background, so the
    band around the class strokes, which no stroke covers, should lean to background unless
    the features say otherwise.  ``logits (B, 1+N, H, W)``, ``target (B, H, W)`` long.

    ``soft``: each pixel's term is weighted by the model's own (detached) background
    probability there, so the push on a logit is ``p_bg (1 - p_bg)``: strongest where the
    model is unsure (the halo), vanishing where it is sure of a class (the unpainted inside of
    a large object, which the plain form pushes hardest, ``1 - p_bg``)."""
    unpainted = target == NOT_PAINTED
    logp_bg = logits.float().log_softmax(1)[:, 0]
    weight = unpainted * logp_bg.detach().exp() if soft else unpainted
    return -(logp_bg * weight).sum() / unpainted.sum().clamp(min=1)
