"""ResNet-50 backbone from a user-supplied torchvision/timm-style ``state_dict`` file.

Not bundled (no weights ship with the app); build it with
``build_backbone("resnet50", weights="/path/resnet50.pth")`` (a plain state_dict saved with
``torch.save(model.state_dict())`` or a ``.safetensors`` file).  Taps follow method.md §2.1:
every bottleneck output after the residual add (ReLU applied, as torchvision's block does).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import Backbone, TapSpec

_LAYERS = ((64, 3, 1, "skip"), (128, 4, 2, "s8"), (256, 6, 2, "s16"), (512, 3, 2, "s32"))


class _Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class ResNet50(Backbone):
    """Frozen ResNet-50 returning its 16 bottleneck outputs (strides 4, 8, 16, 32)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        taps, cin = [], 64
        for li, (width, n, stride, group) in enumerate(_LAYERS, start=1):
            blocks = []
            for i in range(n):
                blocks.append(_Bottleneck(cin, width, stride if i == 0 else 1))
                cin = width * 4
                taps.append(TapSpec(stride=4 * 2 ** (li - 1), channels=cin, group=group))
            setattr(self, f"layer{li}", nn.Sequential(*blocks))
        self.taps = tuple(taps)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 3, H, W)`` normalised -> list of 16 maps."""
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        out = []
        for li in range(1, 5):
            for block in getattr(self, f"layer{li}"):
                h = block(h)
                out.append(h)
        return out


def build_resnet50(weights: str | None = None) -> ResNet50:
    """Build ResNet-50 from a state_dict file on disk (required: no weights are bundled)."""
    if not weights:
        raise ValueError("resnet50 needs a weights file: --backbone-weights /path/resnet50.pth")
    if str(weights).endswith(".safetensors"):
        from safetensors.torch import load_file
        state = load_file(weights)
    else:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.startswith("fc.")}
    model = ResNet50()
    model.load_state_dict(state, strict=True)
    return model
