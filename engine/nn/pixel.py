"""Per-pixel paths fused with the distilled decoder: a filter-bank classifier and a probe.

Two simple per-pixel classifiers beat the teacher→student pipeline on some sets (a random
forest on an ilastik-style filter bank on nuclei and cracks, a linear probe on the frozen
backbone's taps on polyps and tiles; ``shared/design/accuracy-notes.md``).  A model that
contains both should never lose to either, so the head's logits are the *sum* of three or four
experts, each with its own output (logits, not features, are combined: one linear layer over
deep and filter features together was dominated by the deep channels, per the notes):

- **decoder** — the distilled path (student coarse maps → mixer → decoder), unchanged;
- **filters** — a small per-pixel MLP (1x1 convs, non-linear like the forest) on
  :class:`FilterBank` responses: Gaussian smoothing of RGB, Laplacian of Gaussian, gradient
  magnitude, Hessian and structure-tensor eigenvalues at sigma 0.7-10 (ilastik's set),
  computed in torch on the device from the same uint8 image the backbone sees, standardised
  with statistics of the support views (buffers set by the learner);
- **probe** — a 1x1 conv per backbone tap group (the last tap of each), upsampled and summed:
  exactly a linear probe on the concatenated multi-scale taps (1x1 convs and bilinear
  upsampling commute), so the student can represent a probe;
- **trees** (``"filters+probe+trees"``, optional: on 25 draws it did not beat the model
  without it, ``benchmarks/results/accuracy-k5-5seeds-trees.md``) — a forest of extremely
  randomised trees on the raw filter responses (:mod:`engine.nn.trees`): the MLP did not reach
  a forest on the same filters (nuclei 63-65 against 73.6), so the model holds one.  Its
  log-odds enter as they are (no weight: with the other paths at zero the model is the
  forest); the learner feeds the training views out-of-fold trees, so the other paths learn
  what the trees get wrong on images they did not see (:mod:`engine.learning.trees`).

All give logits at the decoder's finest stride (2 for Lite0), where the filter responses are
computed (a scale pyramid, see :class:`FilterBank`; the trees walk them at stride 4 and their
log-odds are upsampled, see :func:`tree_inputs`).  The trained paths' last layers start at
zero and unfitted trees add 0, so a fresh model predicts what the decoder alone predicts; the
learner adds an auxiliary loss on each trained path alone (``LearnConfig.aux_weight``) so
each is a classifier in its own right.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .backbones import TapSpec
from .trees import TreeEnsemble

SIGMAS = (0.7, 1.6, 3.5, 5.0, 10.0)
TREE_EPS = 1e-3  # added to the forest's probabilities before the log: logits within +-6.9
PER_SIGMA = 9  # RGB smoothing (3), LoG, gradient magnitude, Hessian (2), structure tensor (2)


def _gauss_kernel(sigma: float) -> torch.Tensor:
    r = max(1, math.ceil(3 * sigma))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _eig2(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (larger, smaller) of the symmetric 2x2 matrices ``[[a, b], [b, c]]``."""
    mean, diff = (a + c) / 2, (a - c) / 2
    root = torch.sqrt(diff * diff + b * b + 1e-12)
    return mean + root, mean - root


class FilterBank(nn.Module):
    """ilastik-style filter responses of uint8 images at stride 2, in fp32 whatever the
    model's dtype.

    Scale pyramid: sigma 0.7 and 1.6 are computed on the image average-pooled to 1/2 (the
    output stride), 3.5-10 at 1/4 and upsampled (sigma divided by the factor; derivatives are
    scale-normalised, so they do not depend on the level).  Kernels stay <= 17 taps.  At full
    resolution, sigma 0.7 alone cost more than the backbone's forward pass on a CPU, and a
    61-tap depthwise convolution for sigma 10 more
    (``benchmarks/results/engine-docstring-figures.md``).
    """

    channels = PER_SIGMA * len(SIGMAS)
    levels = ((2, (0.7, 1.6)), (4, (3.5, 5.0, 10.0)))

    def __init__(self) -> None:
        super().__init__()
        for f, sigmas in self.levels:
            for s in sigmas:
                self.register_buffer(_kname(s), _gauss_kernel(s / f), persistent=False)

    def _smooth(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """Separable Gaussian smoothing, edges replicated: each pass a sum of shifted copies.

        The same as a depthwise convolution with the kernel; on a CPU oneDNN's depthwise
        convolutions with these thin 1-D kernels took 4x longer than the shifted sums
        (``benchmarks/results/pixel-path-cost.md``)."""
        k = getattr(self, _kname(sigma)).float()
        r = k.numel() // 2
        x = F.pad(x, (r, r, r, r), mode="replicate")
        return _symmetric_pass(_symmetric_pass(x, k, 3), k, 2)

    def _at_scale(self, rgb: torch.Tensor, sigma: float, s: float) -> list[torch.Tensor]:
        """The 9 responses of one sigma on ``rgb`` (a pyramid level; ``s`` = sigma there)."""
        sm = self._smooth(rgb, sigma)
        g = sm.mean(1, keepdim=True)
        gy, gx = _diff(g, 2), _diff(g, 3)
        gyy, gxx, gxy = _diff(gy, 2), _diff(gx, 3), _diff(gx, 2)
        h1, h2 = _eig2(gxx, gxy, gyy)
        st = self._smooth(torch.cat([gx * gx, gx * gy, gy * gy], 1), sigma)
        t1, t2 = _eig2(st[:, 0:1], st[:, 1:2], st[:, 2:3])
        s2 = s * s
        return [sm, s2 * (gxx + gyy), s * torch.sqrt(gx * gx + gy * gy + 1e-12),
                s2 * h1, s2 * h2, s2 * t1, s2 * t2]

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` uint8 (H, W multiples of 4) -> ``(B, 45, H/2, W/2)`` float32."""
        # Never under autocast: bf16 would ruin the derivatives (and a bf16 depthwise
        # convolution on a CPU is ~100x slower than fp32).
        with torch.autocast(images.device.type, enabled=False):
            return self._responses(images.contiguous().float() / 255.0)

    def _responses(self, rgb: torch.Tensor) -> torch.Tensor:
        size = (rgb.shape[-2] // 2, rgb.shape[-1] // 2)
        # Written in place into one tensor (no concatenations), channels-last on a CPU, the
        # layout the MLP's first 1x1 convolution runs fastest on there.
        fmt = torch.channels_last if rgb.device.type == "cpu" else torch.contiguous_format
        out = torch.empty((rgb.shape[0], self.channels, *size), device=rgb.device,
                          dtype=torch.float32, memory_format=fmt)
        c = 0
        half = F.avg_pool2d(rgb, 2)
        for f, sigmas in self.levels:
            level = half if f == 2 else F.avg_pool2d(half, f // 2)
            if f == 2:
                for sigma in sigmas:
                    c = _write(out, c, self._at_scale(level, sigma, sigma / f))
                continue
            # Channels-last too: on a CPU the bilinear upsampling of 27 channels ran ~4x
            # faster in that layout, and its result copies into ``out`` in contiguous runs.
            coarse = torch.empty((rgb.shape[0], PER_SIGMA * len(sigmas), *level.shape[-2:]),
                                 device=rgb.device, dtype=torch.float32, memory_format=fmt)
            k = 0
            for sigma in sigmas:
                k = _write(coarse, k, self._at_scale(level, sigma, sigma / f))
            out[:, c:c + k] = F.interpolate(coarse, size=size, mode="bilinear",
                                            align_corners=False)
            c += k
        return out


def _write(out: torch.Tensor, c: int, parts: list[torch.Tensor]) -> int:
    """Copy ``parts`` into ``out``'s channels from ``c`` on; returns the next free channel."""
    for p in parts:
        out[:, c:c + p.shape[1]] = p
        c += p.shape[1]
    return c


def _symmetric_pass(x: torch.Tensor, k: torch.Tensor, dim: int) -> torch.Tensor:
    """Valid correlation of ``x`` with the symmetric 1-D kernel ``k`` along ``dim``."""
    r = k.numel() // 2
    n = x.shape[dim] - 2 * r
    out = x.narrow(dim, r, n) * k[r]
    for i in range(1, r + 1):
        out += (x.narrow(dim, r - i, n) + x.narrow(dim, r + i, n)) * k[r + i]
    return out


def _kname(sigma: float) -> str:
    return "g" + str(sigma).replace(".", "_")


def _diff(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Central difference along ``dim`` (2 = rows, 3 = columns), edges replicated."""
    pad = (0, 0, 1, 1) if dim == 2 else (1, 1, 0, 0)
    p = F.pad(x, pad, mode="replicate")
    n = x.shape[dim]
    return (p.narrow(dim, 2, n) - p.narrow(dim, 0, n)) / 2


def tree_log_odds(probs: torch.Tensor) -> torch.Tensor:
    """``(B, 1 + N, h, w)`` forest probabilities -> ``(B, N, h, w)`` log p_c - log p_bg."""
    logp = torch.log(probs.float() + TREE_EPS)
    return logp[:, 1:] - logp[:, :1]


def tree_inputs(responses: torch.Tensor) -> torch.Tensor:
    """Filter responses at the trees' stride: twice the responses' (4 for Lite0), averaged.

    Walking the trees costs per pixel and per tree; at stride 2 they took longer than the
    rest of a prediction on a CPU.  A forest on nuclei lost nothing at stride 4; on cracks
    (2-4 px wide) it did, but there the trees are the weakest path anyway
    (``benchmarks/results/trees-path-cost.md``)."""
    return F.avg_pool2d(responses.float(), 2, ceil_mode=True)


def combine(paths: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """Sum of the pixel paths' logits (what the decoder adds), or None without paths."""
    return sum(paths.values()) if paths else None  # type: ignore[return-value]


def probe_taps(taps: tuple[TapSpec, ...]) -> list[int]:
    """Index of the last tap of every tap group (the probe's inputs), in tap order."""
    last: dict[str, int] = {}
    for i, t in enumerate(taps):
        last[t.group if t.group != "skip" else f"skip{t.stride}"] = i
    return sorted(last.values())


class PixelPaths(nn.Module):
    """Filter-bank MLP + linear probe (+ trees): per-class (bg, fg) logits at the decoder's
    stride.

    ``trees``: also a forest on the raw filter responses (:mod:`engine.nn.trees`); its class
    probabilities p become per-class logits ``log p_c - log p_bg`` (the background logit 0):
    the forest's own log-odds, not trained.
    """

    def __init__(self, taps: tuple[TapSpec, ...], num_classes: int, width: int = 24,
                 trees: bool = False) -> None:
        super().__init__()
        n2, c = 2 * num_classes, FilterBank.channels
        self.filters = FilterBank()
        self.register_buffer("filter_mean", torch.zeros(1, c, 1, 1))
        self.register_buffer("filter_std", torch.ones(1, c, 1, 1))
        self.mlp = nn.Sequential(nn.Conv2d(c, width, 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(width, width, 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(width, n2, 1))
        self.taps = probe_taps(taps)
        self.probe = nn.ModuleList(nn.Conv2d(taps[i].channels, n2, 1) for i in self.taps)
        for last in [self.mlp[-1], *self.probe]:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        self.trees = TreeEnsemble(num_classes + 1) if trees else None

    def responses(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` uint8 -> raw filter responses at stride 2 ``(B, 45, H/2, W/2)``."""
        return self.filters(images)

    def set_statistics(self, responses: torch.Tensor) -> None:
        """Standardise with the mean and std of ``(V, 45, h, w)`` support responses."""
        flat = responses.transpose(0, 1).flatten(1).float()
        self.filter_mean.copy_(flat.mean(1).view_as(self.filter_mean))
        self.filter_std.copy_(flat.std(1).clamp(min=1e-4).view_as(self.filter_std))

    def tree_probs(self, responses: torch.Tensor) -> torch.Tensor:
        """The trees' class probabilities ``(B, 1 + N, h', w')`` at their stride."""
        return self.trees(tree_inputs(responses))

    def tree_logits(self, probs: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Forest probabilities at the trees' stride -> ``(B, N, 2, *size)`` logits at the
        responses' ``size``."""
        fg = F.interpolate(tree_log_odds(probs), size=size, mode="bilinear", align_corners=False)
        return torch.stack([torch.zeros_like(fg), fg], 2).to(self.mlp[0].weight.dtype)

    def _first_layer(self, responses: torch.Tensor) -> torch.Tensor:
        """The MLP's first 1x1 convolution of the *standardised* responses, with the
        standardisation folded into its weights:
        ``W((r - m) / s) + b = (W / s) r + (b - (W / s) m)``.

        The same function as standardising first, without two passes over the 45-channel map
        (on a CPU, memory-bound: they cost more than the convolution itself,
        ``benchmarks/results/pixel-path-cost.md``).  Folded in fp32 at every call, so training
        updates ``W`` and ``b`` as before."""
        conv = self.mlp[0]
        inv = 1.0 / self.filter_std.float().flatten()
        w = conv.weight.float() * inv.view(1, -1, 1, 1)
        b = conv.bias.float() - (w.flatten(1) * self.filter_mean.float().flatten()).sum(1)
        dtype = conv.weight.dtype
        return F.conv2d(responses.to(dtype), w.to(dtype), b.to(dtype))

    def forward(self, responses: torch.Tensor, feats: list[torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Filter and probe logits, each ``(B, N, 2, h, w)`` at the responses' size."""
        filt = self.mlp[1:](self._first_layer(responses))
        size = responses.shape[-2:]
        probe = sum(F.interpolate(conv(feats[i]), size=size, mode="bilinear",
                                  align_corners=True) for conv, i in zip(self.probe, self.taps))
        b = responses.shape[0]
        return filt.view(b, -1, 2, *size), probe.view(b, -1, 2, *size)
