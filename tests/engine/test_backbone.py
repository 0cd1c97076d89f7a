"""The bundled backbone: offline weights, tap shapes, BatchNorm folding, registry."""

from __future__ import annotations

import pytest
import torch

from engine.nn.backbones import Backbone, available_backbones, build_backbone
from engine.nn.backbones.efficientnet_lite import EfficientNetLite0, lite0_weights_path


def test_lite0_taps_have_the_declared_strides_and_channels():
    model = build_backbone("efficientnet_lite0")
    x = torch.zeros(1, 3, 96, 128)
    with torch.no_grad():
        feats = model(model.normalize(x))
    assert len(feats) == len(model.taps) == 16
    for f, tap in zip(feats, model.taps):
        assert f.shape[1:] == (tap.channels, 96 // tap.stride, 128 // tap.stride)
    assert not any(p.requires_grad for p in model.parameters())


def test_batchnorm_folding_keeps_the_outputs():
    fused = build_backbone("efficientnet_lite0")
    plain = EfficientNetLite0()
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    plain.load_state_dict({k: v for k, v in state.items()
                           if not k.startswith(("_conv_head", "_bn1.", "_fc"))})
    plain.eval()
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for a, b in zip(fused(x), plain(x)):
            torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-4)


def test_channels_last_on_cpu_keeps_the_outputs(monkeypatch: pytest.MonkeyPatch):
    model = build_backbone("efficientnet_lite0")
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        fast = model(x)
    assert all(f.is_contiguous(memory_format=torch.channels_last) for f in fast)

    monkeypatch.setattr(Backbone, "cpu_layout", torch.contiguous_format)
    with torch.no_grad():
        plain = model(x)
    assert all(f.is_contiguous() for f in plain)
    for a, b in zip(fast, plain):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-4)


def test_registry():
    assert {"efficientnet_lite0", "resnet50"} <= set(available_backbones())
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("nope")
    with pytest.raises(ValueError, match="weights file"):
        build_backbone("resnet50")
