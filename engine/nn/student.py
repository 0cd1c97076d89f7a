"""ConvDist student (method.md §3): predicts the teacher's coarse maps from query features alone.

Per attention group, one block ``Conv3x3(C -> W) -> ReLU -> Conv1x1(W -> N)`` is applied to every
tap of the group (weights shared across the group's taps), so it outputs exactly one map per
tap and per class, stacked like the teacher's.  At inference no support image is needed.

Deviations (argued): the hidden width W is ``student_width`` (32) instead of C, and all N
classes share the 3x3 conv with one output channel each (a batched multi-class student), so a
second class costs one extra 1x1 channel instead of a whole ClassDistiller (12–50 M params in
the paper).  That keeps inference within the auto-labelling throughput budget on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .backbones import TapSpec
from .taps import attention_groups
from .teacher import stack_levels


class ConvDistStudent(nn.Module):
    """One extractor per attention group, N output channels (classes)."""

    def __init__(self, taps: tuple[TapSpec, ...], num_classes: int, width: int) -> None:
        super().__init__()
        self.groups = attention_groups(taps)
        self.num_classes = num_classes
        self.extractors = nn.ModuleDict({
            g.name: nn.ModuleDict({
                "conv": nn.Conv2d(g.channels, width, 3, padding=1),
                "out": nn.Conv2d(width, num_classes, 1),
            }) for g in self.groups})

    def forward(self, feats: list[torch.Tensor]) -> dict[int, torch.Tensor]:
        """Query taps -> ``{stride: (B, N, T, h, w)}`` coarse maps."""
        per_tap = {}
        for g in self.groups:
            ex = self.extractors[g.name]
            # All taps of a group have the same shape: run them as one batch (fewer ops).
            x = torch.cat([feats[i] for i in g.indices])
            maps = ex["out"](F.relu(ex["conv"](x), inplace=True)).chunk(len(g.indices))
            per_tap.update(zip(g.indices, maps))
        return stack_levels(self.groups, per_tap)
