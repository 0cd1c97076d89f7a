"""The segmentation model: frozen backbone + DCAMA-style teacher + ConvDist student + shared head.

Shapes used throughout (B = batch, S = support shots, N = number of foreground classes):

- backbone taps: list of ``(B, C_t, H/s_t, W/s_t)`` float32 maps (see ``engine.nn.backbones``)
- coarse maps: ``dict[stride, Tensor (B, N, T_s, H/s, W/s)]`` for strides 8, 16, 32 — one
  1-channel map per class and per attention tap (T_s taps at that stride)
- logits: ``(B, 1 + N, H, W)`` float32, channel 0 = background, 1..N = classes
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from engine.io.labels import ClassInfo, default_classes

from .backbones import Backbone, TapSpec, build_backbone
from .head import SharedHead
from .pixel import PixelPaths, combine
from .student import ConvDistStudent
from .teacher import MaskAttentionTeacher

PATHS = ("filters+probe+trees", "filters+probe", "filters", "probe", "none")


@dataclass(frozen=True)
class HeadConfig:
    """Architecture of the trainable parts (everything but the backbone).

    ``mix_width``: channels of the multi-scale mixer (method.md: 128; 32 here for CPU speed).
    ``student_width``: hidden channels of each ConvDist block (method.md: = backbone channels).
    ``decoder_widths``: channels at strides 8, 4, 2 of the decoder.
    ``heads``: attention heads; ``attn_dropout``: dropout on attention probabilities.
    ``skip_convs``: decoder stages at strides 4/2, "separable" or "concat" (see ``engine.nn.head``).
    ``pixel_paths``: per-pixel experts whose logits add to the decoder's (``engine.nn.pixel``):
    "filters+probe", "filters", "probe" or "none" (models from before engine 0.2), or
    "filters+probe+trees" (a forest on the filter bank too, ``engine.nn.trees``: measured on 25
    draws and not the default, ``benchmarks/results/accuracy-k5-5seeds-trees.md``; the IoU
    estimate's calibration was fitted without it).
    """

    backbone: str = "efficientnet_lite0"
    mix_width: int = 32
    student_width: int = 32
    decoder_widths: tuple[int, int, int] = (32, 24, 12)
    heads: int = 8
    attn_dropout: float = 0.0
    skip_convs: str = "separable"
    pixel_paths: str = "filters+probe"


class SegModel(nn.Module):
    """Backbone + teacher + student + shared head, with class list and metadata.

    Use :meth:`features`, then :meth:`student_logits` (inference, no supports) or
    :meth:`teacher_logits` (few-shot, with supports).
    """

    def __init__(self, classes: list[ClassInfo], config: HeadConfig = HeadConfig(),
                 backbone: Backbone | None = None, metadata: dict | None = None) -> None:
        super().__init__()
        if not classes:
            raise ValueError("a model needs at least one class")
        self.classes = list(classes)
        self.config = config
        self.metadata = dict(metadata or {})
        self.backbone = backbone if backbone is not None else build_backbone(config.backbone)
        taps: tuple[TapSpec, ...] = self.backbone.taps
        n = len(self.classes)
        self.teacher = MaskAttentionTeacher(taps, config.heads, config.attn_dropout)
        self.student = ConvDistStudent(taps, n, config.student_width)
        self.head = SharedHead(taps, config.mix_width, config.decoder_widths, config.skip_convs)
        if config.pixel_paths not in PATHS:
            raise ValueError(f"unknown pixel_paths {config.pixel_paths!r}")
        self.pixel = (PixelPaths(taps, n, trees="trees" in config.pixel_paths.split("+"))
                      if config.pixel_paths != "none" else None)

    @property
    def num_classes(self) -> int:
        """Number of foreground classes N."""
        return len(self.classes)

    def match_layout(self, device: torch.device) -> SegModel:
        """Put the trainable parts' conv weights in the layout that is fastest on ``device``.

        On a CPU, channels-last (the backbone's taps already are, see
        :meth:`engine.nn.backbones.Backbone.match_layout`): oneDNN then runs the head's small
        convolutions without reordering their weights at every call (faster on 2 cores:
        ``benchmarks/results/engine-docstring-figures.md``).  Elsewhere the default layout.
        Values are unchanged;
        :func:`engine.nn.modelfile.save_model` writes contiguous tensors either way.
        """
        fmt = torch.channels_last if device.type == "cpu" else torch.contiguous_format
        for part in (self.teacher, self.student, self.head, self.pixel):
            if part is None:
                continue
            part.to(memory_format=fmt)
        return self

    def config_dict(self) -> dict:
        """JSON-serialisable architecture description."""
        return asdict(self.config)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 3, H, W)`` uint8 (H, W multiples of 32) -> backbone taps (frozen, no grad)."""
        return self.backbone(self.backbone.normalize(images))

    def student_coarse(self, feats: list[torch.Tensor]) -> dict[int, torch.Tensor]:
        """Coarse maps predicted from the query features alone."""
        return self.student(feats)

    def teacher_coarse(self, feats: list[torch.Tensor], support_feats: list[torch.Tensor],
                       support_masks: torch.Tensor,
                       support_painted: torch.Tensor | None = None) -> dict[int, torch.Tensor]:
        """Coarse maps by attention to the supports.

        ``support_feats``: taps ``(B, S, C, h, w)``; ``support_masks``: ``(B, S, N, H, W)``
        float in [0, 1] (one channel per class); ``support_painted``: ``(B, S, H, W)``, 1
        where a support pixel is painted, for sparse labels (None: all are).
        """
        return self.teacher(feats, support_feats, support_masks, support_painted)

    def decode(self, coarse: dict[int, torch.Tensor], feats: list[torch.Tensor],
               out_size: tuple[int, int] | None,
               extra: torch.Tensor | None = None) -> torch.Tensor:
        """Coarse maps + query skips (+ ``extra`` per-pixel logits, see :meth:`pixel_paths`)
        -> merged logits ``(B, 1 + N, *out_size)`` (``None``: at the decoder's finest stride)."""
        return self.head(coarse, feats, out_size, extra)

    def pixel_responses(self, images: torch.Tensor) -> torch.Tensor | None:
        """Filter-bank responses at the decoder's finest stride (None without pixel paths)."""
        return self.pixel.responses(images) if self.pixel is not None else None

    def pixel_paths(self, responses: torch.Tensor | None, feats: list[torch.Tensor],
                    tree_probs: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Per-path logits ``{"filters" | "probe" | "trees": (B, N, 2, h, w)}`` of the enabled
        paths.  ``tree_probs``: the forest's probabilities to use instead of the model's own
        trees (the learner's out-of-fold ones, see :mod:`engine.learning.trees`)."""
        if self.pixel is None or responses is None:
            return {}
        filt, probe = self.pixel(responses, feats)
        wanted = self.config.pixel_paths.split("+")
        out = {k: v for k, v in (("filters", filt), ("probe", probe)) if k in wanted}
        if self.pixel.trees is not None:
            probs = tree_probs if tree_probs is not None else self.pixel.tree_probs(responses)
            out["trees"] = self.pixel.tree_logits(probs, tuple(responses.shape[-2:]))
        return out

    def pixel_logits(self, responses: torch.Tensor | None, feats: list[torch.Tensor]
                     ) -> torch.Tensor | None:
        """Sum of the pixel paths' logits (the ``extra`` of :meth:`decode`), or None."""
        return combine(self.pixel_paths(responses, feats))

    def student_logits(self, images: torch.Tensor, full_size: bool = True) -> torch.Tensor:
        """``(B, 3, H, W)`` uint8 -> logits ``(B, 1 + N, H, W)`` with no support images.

        ``full_size=False``: logits at the decoder's finest stride (``H/2, W/2`` for Lite0),
        before the final bilinear upsampling (``align_corners=True``).
        """
        feats = self.features(images)
        size = tuple(images.shape[-2:]) if full_size else None
        extra = self.pixel_logits(self.pixel_responses(images), feats)
        return self.decode(self.student_coarse(feats), feats, size, extra)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """State dict of everything but the (frozen, rebuilt-from-package) backbone."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("backbone.")}


def trainable_parameters(model: SegModel) -> list[nn.Parameter]:
    """Parameters the learner updates (teacher attention, mixer, decoder, student)."""
    return [p for n, p in model.named_parameters() if not n.startswith("backbone.")]


__all__ = ["ClassInfo", "HeadConfig", "SegModel", "default_classes", "trainable_parameters"]
