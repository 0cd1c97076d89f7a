"""DCAMA-style few-shot teacher (method.md §2.2): query↔support attention, support mask as value.

For every attention tap, query tokens attend over the tokens of all S support shots at once
(one softmax over S·h·w keys); the attention-weighted support *mask* (not features) is the
output, averaged over heads, giving one coarse map per tap and per class.

Choices where this differs from the official DCAMA (argued):

- **Initialisation.** There is no meta-trained checkpoint for EfficientNet-Lite0, so the query
  and key projections start as the identity with zero bias: at step 0 attention is plain
  scaled feature similarity, which already makes the teacher a working few-shot segmenter
  (a soft nearest-neighbour label transfer) before any fine-tuning.
- **No positional encoding** (DCAMA's ``pe=False`` option): position in one image says nothing
  about position in another photo of the same class, and with a handful of shots a fixed
  sinusoid only adds a bias the fine-tuning has to unlearn.
- **Multi-class in one pass.** The attention probabilities depend only on features, so every
  class reuses them with its own mask as the value.  Unlike DCAMAMultiClass, shots without a
  class stay in that class's softmax with an all-zero mask: their pixels are genuine negative
  evidence, and the teacher's cost no longer grows with the number of classes.
- No attention dropout (0.5 in DCAMA): with 1–10 shots it makes the teacher's targets for the
  student needlessly noisy, and on a CPU it doubles the cost of the attention.
- **Sparse supports** (scribbles): a support pixel nobody painted is neither class nor
  background, so it must not vote.  Attention keys get an additive bias ``log(painted
  fraction)`` (fraction at the tap's resolution, floored at 1e-30: finite, so a crop with
  nothing painted never gives NaN; its keys' values are 0) and the value is the class
  fraction *among the painted pixels* of the key's cell.  A completely painted support gets
  neither (the same numbers as before sparse labels existed).
- Heads are at least 32 channels wide (up to 8 heads): Lite0's 40-channel stride-8 taps would
  otherwise get 5-dim heads, 8x the memory traffic for no measurable gain.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .backbones import TapSpec
from .taps import LEVELS, attention_groups


def _num_heads(channels: int, wanted: int, min_dim: int = 32) -> int:
    """At most ``wanted`` heads, each at least ``min_dim`` channels wide, dividing ``channels``."""
    heads = max(1, min(wanted, channels // min_dim))
    while channels % heads:
        heads -= 1
    return heads


class MaskAttention(nn.Module):
    """One attention block shared by the taps of one group (channels C)."""

    def __init__(self, channels: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = _num_heads(channels, heads)
        self.dropout = dropout
        self.query = nn.Linear(channels, channels)
        self.key = nn.Linear(channels, channels)
        for lin in (self.query, self.key):
            nn.init.eye_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, fq: torch.Tensor, fs: torch.Tensor, ms: torch.Tensor,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        """Coarse maps for one tap.

        Parameters
        ----------
        fq : (B, C, h, w) query features.
        fs : (B, S, C, h, w) support features.
        ms : (B, S, N, h, w) support masks already resized to (h, w), float in [0, 1].
        bias : (B, S, h, w) additive attention bias per support key (None: no bias).

        Returns
        -------
        (B, N, h, w) float: per query position, the attention-weighted support mask.
        """
        b, c, h, w = fq.shape
        s, n = fs.shape[1], ms.shape[2]
        d = c // self.heads
        q = self.query(fq.flatten(2).transpose(1, 2))                     # B, hw, C
        k = self.key(fs.permute(0, 1, 3, 4, 2).reshape(b, s * h * w, c))  # B, Shw, C
        q = q.view(b, h * w, self.heads, d).transpose(1, 2)               # B, H, hw, d
        k = k.view(b, s * h * w, self.heads, d).transpose(1, 2)           # B, H, Shw, d
        v = ms.permute(0, 1, 3, 4, 2).reshape(b, 1, s * h * w, n).expand(b, self.heads, -1, -1)
        p = self.dropout if self.training else 0.0
        mask = None if bias is None else bias.reshape(b, 1, 1, s * h * w).to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v.to(q.dtype), attn_mask=mask, dropout_p=p,
                                             scale=1.0 / math.sqrt(d))   # B, H, hw, N
        return out.mean(1).transpose(1, 2).reshape(b, n, h, w)


class MaskAttentionTeacher(nn.Module):
    """All attention groups of a backbone; produces the per-stride coarse map stacks."""

    def __init__(self, taps: tuple[TapSpec, ...], heads: int, dropout: float) -> None:
        super().__init__()
        self.groups = attention_groups(taps)
        self.blocks = nn.ModuleDict(
            {g.name: MaskAttention(g.channels, heads, dropout) for g in self.groups})

    def forward(self, feats: list[torch.Tensor], support_feats: list[torch.Tensor],
                support_masks: torch.Tensor,
                support_painted: torch.Tensor | None = None) -> dict[int, torch.Tensor]:
        """Query taps, support taps ``(B, S, C, h, w)``, masks ``(B, S, N, H, W)`` and, for
        sparse labels, the painted pixels ``(B, S, H, W)`` float (None: all painted) ->
        ``{stride: (B, N, T, h, w)}``."""
        per_tap: dict[int, torch.Tensor] = {}
        resized: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor | None]] = {}
        for g in self.groups:
            size = tuple(feats[g.indices[0]].shape[-2:])
            if size not in resized:
                resized[size] = _resized_masks(support_masks, support_painted, size)
            masks, bias = resized[size]
            # The taps of a group share the block and the shapes: one batched call.
            t = len(g.indices)
            out = self.blocks[g.name](torch.cat([feats[i] for i in g.indices]),
                                      torch.cat([support_feats[i] for i in g.indices]),
                                      masks.repeat(t, 1, 1, 1, 1),
                                      None if bias is None else bias.repeat(t, 1, 1, 1))
            per_tap.update(zip(g.indices, out.chunk(t)))
        return stack_levels(self.groups, per_tap)


def _resized_masks(masks: torch.Tensor, painted: torch.Tensor | None,
                   size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Support masks at a tap's ``size`` and the attention bias of sparse labels (or None)."""
    b, s, n = masks.shape[:3]
    m = F.interpolate(masks.flatten(0, 1), size=size, mode="bilinear", align_corners=True)
    m = m.view(b, s, n, *size)
    if painted is None:
        return m, None
    p = F.interpolate(painted.flatten(0, 1).unsqueeze(1).float(), size=size, mode="bilinear",
                      align_corners=True).view(b, s, 1, *size)
    # Class fraction among the painted pixels of each cell; unpainted cells are masked out.
    m = torch.where(p > 1e-6, m / p.clamp(min=1e-6), torch.zeros_like(m)).clamp(max=1.0)
    return m, p[:, :, 0].clamp(min=1e-30).log()


def stack_levels(groups, per_tap: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    out = {}
    for stride in LEVELS:
        idx = sorted(i for g in groups if g.stride == stride for i in g.indices)
        out[stride] = torch.stack([per_tap[i] for i in idx], dim=2)
    return out
