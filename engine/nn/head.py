"""Shared head (method.md §2.3–2.4): multi-scale mixing of coarse maps + decoder with query skips.

Used by teacher and student alike (the same module instance).  Each class is decoded as a
binary problem (2-channel logits) and the classes are merged as in DCAMAMultiClass: the
background logit is the one of the class with the largest foreground logit.

Deviations (argued): widths are smaller than the paper's 128/64/16 and each decoder stage has
one 3x3 conv instead of two (``HeadConfig``), to fit a 2-core CPU budget (training runs ~8
decodes per step; the head must also stay cheap next to the backbone at inference), and the
decoder takes one more query-only skip at stride 2 (Lite0's first block) so thin structures
(cracks, 2–4 px) survive; logits are produced at stride 2 and upsampled bilinearly.

Decoder stages at strides 4 and 2 (``skip_convs``):

- ``"separable"`` (default): ``relu(up(conv3x3(x)) + pointwise(depthwise3x3(skip)))``.  The
  3x3 conv on the coarser input runs *before* upsampling (4x fewer pixels; convolution and
  bilinear upsampling nearly commute), and the skip gets a depthwise-separable conv.  This is
  the same "coarse context + local edges" sum as a conv on the concatenation, at ~1/4 of its
  cost: 3x3 convs over 40-56 channels at strides 2/4 were half of the head's time on a CPU.
- ``"concat"``: ``relu(conv3x3(cat(up(x), skip)))`` as in DCAMA (models from engine 0.1).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .backbones import TapSpec
from .taps import level_taps, skip_tap


def _block(cin: int, width: int, kernels: tuple[int, int, int]) -> nn.Sequential:
    chans = (cin, 16, width, width)
    layers: list[nn.Module] = []
    for i, k in enumerate(kernels):
        layers += [nn.Conv2d(chans[i], chans[i + 1], k, padding=k // 2),
                   nn.GroupNorm(4, chans[i + 1]), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def _conv_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True))


def upsample(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize of ``(B, C, h, w)`` to ``size`` (``align_corners=True``): the head's
    upsampling, also used by the predictor on the finest-stride logits."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class SkipMerge(nn.Module):
    """One decoder stage: ``relu(up(conv3x3(x)) + pointwise(depthwise3x3(skip)))``."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.coarse = nn.Conv2d(cin, cout, 3, padding=1)
        self.depthwise = nn.Conv2d(cskip, cskip, 3, padding=1, groups=cskip)
        self.pointwise = nn.Conv2d(cskip, cout, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """``(B, cin, h, w)`` and ``(B, cskip, H, W)`` -> ``(B, cout, H, W)``."""
        y = self.pointwise(self.depthwise(skip))
        return F.relu(upsample(self.coarse(x), skip.shape[-2:]) + y, inplace=True)


class SharedHead(nn.Module):
    """Mixer (conv1–conv5) + decoder (mixers with skips at strides 8, 4, 2)."""

    def __init__(self, taps: tuple[TapSpec, ...], width: int,
                 dec: tuple[int, int, int], skip_convs: str = "separable") -> None:
        super().__init__()
        levels = level_taps(taps)
        self.skip8, self.skip4 = skip_tap(taps, 8), skip_tap(taps, 4)
        self.skip2 = skip_tap(taps, 2)
        c = {s: taps[i].channels for s, i in ((8, self.skip8), (4, self.skip4)) if i is not None}
        c2 = taps[self.skip2].channels if self.skip2 is not None else 0
        self.conv1 = _block(len(levels[32]), width, (3, 3, 3))
        self.conv2 = _block(len(levels[16]), width, (5, 3, 3))
        self.conv3 = _block(len(levels[8]), width, (5, 5, 3))
        self.conv4 = _block(width, width, (3, 3, 3))
        self.conv5 = _block(width, width, (3, 3, 3))
        if skip_convs not in ("separable", "concat"):
            raise ValueError(f"unknown skip_convs {skip_convs!r}")
        self.separable = skip_convs == "separable"
        self.mixer1 = _conv_relu(width + c[8], dec[0])
        if self.separable:
            self.mixer2 = SkipMerge(dec[0], c[4], dec[1]) if 4 in c else _conv_relu(dec[0], dec[1])
            self.mixer3 = SkipMerge(dec[1], c2, dec[2]) if c2 else _conv_relu(dec[1], dec[2])
            self.logits = nn.Conv2d(dec[2], 2, 1)
        else:
            self.mixer2 = _conv_relu(dec[0] + c.get(4, 0), dec[1])
            self.mixer3 = nn.Sequential(_conv_relu(dec[1] + c2, dec[2]), nn.Conv2d(dec[2], 2, 1))

    def mix(self, coarse: dict[int, torch.Tensor]) -> torch.Tensor:
        """``{stride: (B, N, T, h, w)}`` -> ``(B*N, width, H/8, W/8)``."""
        m32, m16, m8 = (coarse[s].flatten(0, 1) for s in (32, 16, 8))
        x = self.conv1(m32)
        x = self.conv4(upsample(x, m16.shape[-2:]) + self.conv2(m16))
        return self.conv5(upsample(x, m8.shape[-2:]) + self.conv3(m8))

    def forward(self, coarse: dict[int, torch.Tensor], feats: list[torch.Tensor],
                out_size: tuple[int, int] | None,
                extra: torch.Tensor | None = None) -> torch.Tensor:
        """Merged logits ``(B, 1 + N, *out_size)``; ``out_size=None``: at the finest stride
        of the decoder (stride 2 for Lite0), not upsampled.  ``extra``: ``(B, N, 2, h, w)``
        logits at that finest stride added before upsampling (``engine.nn.pixel``)."""
        b, n = coarse[8].shape[:2]

        def skip(i: int) -> torch.Tensor:
            return feats[i].repeat_interleave(n, dim=0) if n > 1 else feats[i]

        x = self.mixer1(torch.cat([self.mix(coarse), skip(self.skip8)], 1))
        stages = ((self.mixer2, self.skip4), (self.mixer3, self.skip2))
        for mixer, tap in stages:
            if tap is None:
                x = mixer(x)
            elif self.separable:
                x = mixer(x, skip(tap))
            else:
                x = mixer(torch.cat([upsample(x, feats[tap].shape[-2:]), skip(tap)], 1))
        if self.separable:
            x = self.logits(x)
        if extra is not None:
            x = x + extra.flatten(0, 1)
        if out_size is not None:
            x = upsample(x, out_size)                               # (B*N, 2, H, W)
        return merge_binary_logits(x.view(b, n, 2, *x.shape[-2:]))


def merge_binary_logits(x: torch.Tensor) -> torch.Tensor:
    """``(B, N, 2, H, W)`` per-class (bg, fg) logits -> ``(B, 1 + N, H, W)``.

    Background is the bg logit of the class whose fg logit is largest (method.md §2.5).
    """
    fg = x[:, :, 1]
    if x.shape[1] == 1:
        return torch.cat([x[:, 0, 0:1], fg], 1)
    best = fg.argmax(1, keepdim=True)
    bg = torch.gather(x[:, :, 0], 1, best)
    return torch.cat([bg, fg], 1)
