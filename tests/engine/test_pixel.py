"""The per-pixel paths fused with the decoder: filter bank, probe, fusion, model files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from engine.io.labels import ClassInfo
from engine.nn.model import HeadConfig, SegModel
from engine.nn.modelfile import load_model, save_model
from engine.nn.pixel import SIGMAS, FilterBank


def _images(b: int = 2, h: int = 64, w: int = 96, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 3, h, w), generator=g, dtype=torch.uint8)


def test_filter_bank_shapes_and_flat_images():
    bank = FilterBank()
    r = bank(_images())
    assert r.shape == (2, 9 * len(SIGMAS), 32, 48) and r.dtype == torch.float32
    assert torch.isfinite(r).all()
    flat = bank(torch.full((1, 3, 64, 64), 77, dtype=torch.uint8))
    smooth = [9 * i + c for i in range(len(SIGMAS)) for c in range(3)]
    others = [c for c in range(flat.shape[1]) if c not in smooth]
    assert torch.allclose(flat[:, smooth], torch.full_like(flat[:, smooth], 77 / 255), atol=1e-5)
    assert flat[:, others].abs().max() < 1e-4  # no edges, no blobs, no curvature


def test_filter_bank_sees_a_bright_blob_at_its_scale():
    img = torch.zeros(1, 3, 128, 128, dtype=torch.uint8)
    yy, xx = torch.meshgrid(torch.arange(128), torch.arange(128), indexing="ij")
    img[:, :, (yy - 64) ** 2 + (xx - 64) ** 2 <= 36] = 255
    r = FilterBank()(img)
    log = r[0, 9 * SIGMAS.index(3.5) + 3]  # LoG at sigma 3.5: strongly negative on the blob
    assert log[32, 32] < log[5, 5] - 0.1 and log[32, 32] == log.min()


def _smooth_by_convolution(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Reference: the separable Gaussian as two depthwise convolutions (edges replicated)."""
    r = max(1, int(np.ceil(3 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    k, c = k / k.sum(), x.shape[1]
    x = F.pad(x, (r, r, r, r), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


@pytest.mark.parametrize("sigma", [0.35, 0.8, 2.5])
def test_shifted_sum_smoothing_equals_depthwise_convolution(sigma):
    bank = FilterBank()
    x = _images(h=40, w=52).float() / 255
    # a kernel of the bank's, registered under its level's sigma (sigma / factor)
    level = {0.35: (2, 0.7), 0.8: (2, 1.6), 2.5: (4, 10.0)}[sigma]
    got = bank._smooth(x, level[1])
    assert torch.allclose(got, _smooth_by_convolution(x, sigma), atol=1e-6)


def test_filter_bank_layout_does_not_change_its_responses():
    img = _images(h=64, w=96)
    bank = FilterBank()
    a = bank(img)  # NCHW input
    b = bank(img.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2))  # NHWC memory, as predicted
    assert a.is_contiguous(memory_format=torch.channels_last)  # on a CPU, for the 1x1 convs
    assert torch.equal(a, b)


def test_folded_standardisation_equals_standardising_first():
    model = SegModel([ClassInfo(1, "c")], HeadConfig(pixel_paths="filters+probe"))
    pix = model.pixel
    torch.manual_seed(0)
    for p in pix.mlp.parameters():
        torch.nn.init.normal_(p)
    r = pix.responses(_images())
    pix.set_statistics(r)
    assert (pix.filter_std != 1).any() and (pix.filter_mean != 0).any()
    direct = pix.mlp((r - pix.filter_mean) / pix.filter_std)
    folded = pix.mlp[1:](pix._first_layer(r))
    assert torch.allclose(folded, direct, rtol=1e-4, atol=1e-4 * direct.abs().max().item())


def test_fresh_pixel_paths_add_nothing_until_trained():
    torch.manual_seed(0)
    fused = SegModel([ClassInfo(1, "a")], HeadConfig()).eval()
    plain = SegModel([ClassInfo(1, "a")], HeadConfig(pixel_paths="none"),
                     backbone=fused.backbone).eval()
    plain.load_state_dict(fused.state_dict(), strict=False)
    x = _images(1, 64, 64)
    with torch.no_grad():
        assert torch.equal(fused.student_logits(x), plain.student_logits(x))


def test_probe_path_is_a_linear_probe_on_the_concatenated_taps():
    """Summing per-tap 1x1 convs upsampled = one linear map of the upsampled, concatenated
    taps: the student can represent a probe exactly."""
    torch.manual_seed(1)
    model = SegModel([ClassInfo(1, "a")], HeadConfig(pixel_paths="probe")).eval()
    for conv in model.pixel.probe:
        torch.nn.init.normal_(conv.weight)
        torch.nn.init.normal_(conv.bias)
    x = _images(1, 64, 64)
    with torch.no_grad():
        feats = model.features(x)
        resp = model.pixel_responses(x)
        got = model.pixel_paths(resp, feats)["probe"].flatten(1, 2)
        size = resp.shape[-2:]
        cat = torch.cat([F.interpolate(feats[i], size=size, mode="bilinear", align_corners=True)
                         for i in model.pixel.taps], 1)
        weight = torch.cat([c.weight for c in model.pixel.probe], 1)
        bias = sum(c.bias for c in model.pixel.probe)
        want = F.conv2d(cat, weight, bias)
    torch.testing.assert_close(got, want, atol=1e-3, rtol=1e-3)  # float32 sums in two orders


@pytest.mark.parametrize("paths", ["filters+probe", "filters", "probe", "none"])
def test_model_file_keeps_the_pixel_paths(tmp_path, paths):
    torch.manual_seed(2)
    model = SegModel([ClassInfo(1, "a")], HeadConfig(pixel_paths=paths),
                     metadata={"input_size": 64}).eval()
    if model.pixel is not None:
        model.pixel.set_statistics(torch.rand(3, FilterBank.channels, 8, 8) * 5)
        for p in model.pixel.parameters():
            torch.nn.init.normal_(p, std=0.1)
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.config.pixel_paths == paths
    x = _images(1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.student_logits(x), model.student_logits(x))


def test_each_path_learns_on_its_own(tmp_path):
    """The learner's auxiliary loss trains each path into a classifier by itself."""
    import sys
    from dataclasses import replace
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import FAST, run
    from synthetic import make_set

    from engine.learning.train import learn

    images, masks = make_set(0, 4)
    _, model = run(learn(images, masks, None, replace(FAST, max_steps=40)))
    x = torch.from_numpy(np.stack([im[:96, :96] for im in images])).permute(0, 3, 1, 2)
    target = torch.from_numpy(np.stack([m[:96, :96] for m in masks]))[:, ::2, ::2]
    with torch.no_grad():
        paths = model.pixel_paths(model.pixel_responses(x), model.features(x))
    for name, logits in paths.items():
        pred = (logits[:, 0, 1] > logits[:, 0, 0]).long()
        inter = ((pred == 1) & (target == 1)).sum().item()
        union = ((pred == 1) | (target == 1)).sum().item()
        assert inter / union > 0.6, f"{name} alone: IoU {inter / union:.2f}"
