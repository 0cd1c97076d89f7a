"""What every backbone is: :class:`TapSpec` and the :class:`Backbone` base class."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class TapSpec:
    """One tapped block output.

    Attributes
    ----------
    stride : int
        Downsampling factor of the map (2, 4, 8, 16 or 32).
    channels : int
        Channels of the map.
    group : str
        Taps of the same group share one attention block (and one student extractor);
        taps with stride <= 4 get no attention and only feed skips (``group == "skip"``).
    """

    stride: int
    channels: int
    group: str


class Backbone(nn.Module):
    """Base class: frozen, eval-mode feature extractor with ImageNet-style normalisation."""

    taps: tuple[TapSpec, ...] = ()
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    #: Memory layout used on a CPU (see :meth:`match_layout`).
    cpu_layout: torch.memory_format = torch.channels_last

    def freeze(self) -> Backbone:
        """Freeze all parameters and keep BatchNorm in eval mode (method.md §4.3 quirk fixed)."""
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def match_layout(self, x: torch.Tensor) -> torch.Tensor:
        """On a CPU, put weights and ``x`` in channels-last layout; elsewhere keep the
        default layout.

        oneDNN's depthwise and small 1x1 convolutions are much faster on channels-last
        tensors (see ``benchmarks/results/backbone-variants-cpu.md``); GPU speeds were
        measured with the default layout, which is kept there.  On a CPU the taps come out
        channels-last: same values and shapes, other strides.
        """
        want = self.cpu_layout if x.device.type == "cpu" else torch.contiguous_format
        if getattr(self, "_layout", torch.contiguous_format) != want:
            self.to(memory_format=want)
            self._layout = want
        return x.contiguous(memory_format=want)

    def train(self, mode: bool = True) -> Backbone:
        return super().train(False)

    def normalize(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` uint8 or 0..255 float -> normalised float32."""
        x = images_uint8.float() / 255.0
        mean, std = self._norm_constants(x.device)
        return (x - mean) / std

    def _norm_constants(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std as ``(1, 3, 1, 1)`` float32 tensors on ``device``, made once per
        device: a copy from the host at every call could not be recorded in a CUDA graph
        (:mod:`engine.infer.graphs`).  Plain attributes, not buffers: they stay float32 when the
        model is cast to bf16, and are not part of the weights."""
        cached = self.__dict__.get("_norm")
        if cached is None or cached[0].device != device:
            cached = tuple(torch.tensor(v, dtype=torch.float32, device=device).view(1, 3, 1, 1)
                           for v in (self.mean, self.std))
            self.__dict__["_norm"] = cached
        return cached
