"""AdamW (decoupled weight decay) in a few tensor ops.

Same update as ``torch.optim.AdamW`` (betas 0.9/0.999, eps 1e-8).  Written out because
constructing any ``torch.optim`` optimizer imports ``torch._dynamo`` on first use: over a
second on a 2-core CPU, with long stretches holding the GIL, which froze the desktop app's
event loop at the start of every first training run (figures:
``benchmarks/results/engine-docstring-figures.md``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class AdamW:
    """Minimal AdamW over a list of parameters; ``lr`` may be changed between steps."""

    def __init__(self, params: Sequence[torch.nn.Parameter], lr: float,
                 weight_decay: float = 0.01, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = 0

    def zero_grad(self) -> None:
        """Drop the gradients (set them to None)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient.

        Multi-tensor (``torch._foreach_*``) ops: eight calls per step whatever the number of
        parameters, instead of eight per parameter.  On a GPU the per-parameter loop was
        launch-bound (~600 tiny kernels and scalar wraps per step for the DistillFSS head).
        """
        live = [(p, m, v) for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq)
                if p.grad is not None]
        if not live:
            return
        self.steps += 1
        params, exp_avg, exp_avg_sq = (list(t) for t in zip(*live))
        grads = [p.grad for p in params]
        b1, b2 = self.betas
        bias1, bias2 = 1 - b1 ** self.steps, 1 - b2 ** self.steps
        torch._foreach_mul_(params, 1 - self.lr * self.weight_decay)
        torch._foreach_lerp_(exp_avg, grads, 1 - b1)
        torch._foreach_mul_(exp_avg_sq, b2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, 1 - b2)
        denom = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denom, math.sqrt(bias2))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, exp_avg, denom, -self.lr / bias1)
