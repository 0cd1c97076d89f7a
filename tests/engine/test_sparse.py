"""Sparse labels (scribbles): unpainted pixels carry no label anywhere in learning."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import FAST, run
from PIL import Image
from synthetic import make_set

from engine.io.labels import NOT_PAINTED, ClassInfo, apply_ignore_value, training_mask
from engine.learning.losses import dice_loss, focal_loss, unpainted_background_loss
from engine.learning.metrics import IoUAccumulator
from engine.learning.train import learn
from engine.nn.teacher import MaskAttentionTeacher


def scribbles(mask: np.ndarray, rng: np.random.Generator, strokes: int = 3) -> np.ndarray:
    """What a person paints quickly: a short line inside each object, a few background lines,
    everything else unpainted."""
    out = np.full(mask.shape, NOT_PAINTED, np.uint8)
    n, comp = cv2.connectedComponents((mask > 0).astype(np.uint8))
    for c in range(1, n):
        ys, xs = np.nonzero(comp == c)
        cy, cx, r = int(ys.mean()), int(xs.mean()), max(2, int(np.sqrt(ys.size / np.pi) / 2))
        cv2.line(out, (cx - r, cy), (cx + r, cy), int(mask[cy, cx]), 3)
    far = cv2.dilate((mask > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
    h, w = mask.shape
    for _ in range(strokes):
        y = int(rng.integers(4, h - 4))
        line = np.zeros_like(out)
        cv2.line(line, (int(rng.integers(0, w // 2)), y), (int(rng.integers(w // 2, w)), y), 1, 3)
        out[(line > 0) & far] = 0
    return out


def test_losses_give_no_gradient_at_unpainted_pixels() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 16, 16, requires_grad=True)
    target = torch.randint(0, 3, (2, 16, 16))
    target[:, 4:12, 4:12] = NOT_PAINTED
    (focal_loss(logits, target) + dice_loss(logits, target)).backward()
    grad = logits.grad.abs().sum(1)
    assert float(grad[:, 4:12, 4:12].max()) == 0.0
    assert float(grad[:, :4].min()) > 0.0


def test_unpainted_background_prior_acts_only_where_nobody_painted() -> None:
    """The weak background prior pulls unpainted pixels towards background, leaves painted
    pixels alone, and is exactly zero for a complete mask."""
    torch.manual_seed(2)
    logits = torch.randn(2, 3, 16, 16, requires_grad=True)
    target = torch.randint(0, 3, (2, 16, 16))
    assert float(unpainted_background_loss(logits, target)) == 0.0
    target[:, 4:12, 4:12] = NOT_PAINTED
    unpainted_background_loss(logits, target).backward()
    grad = logits.grad
    assert float(grad[:, :, :4].abs().max()) == 0.0
    inside = grad[:, :, 4:12, 4:12]
    assert float(inside[:, 0].max()) < 0.0  # descent raises the background logit
    assert float(inside[:, 1:].min()) > 0.0  # and lowers every class logit


def test_soft_background_prior_lets_go_where_the_model_is_sure_of_a_class() -> None:
    """The soft form pushes an unsure unpainted pixel half as hard as the plain form, and
    nearly stops pushing one the model confidently calls a class (the plain form pushes that
    one hardest); painted pixels get nothing either way."""
    target = torch.full((1, 1, 3), NOT_PAINTED)
    target[0, 0, 2] = 1  # painted
    logits = torch.tensor([[[[0.0, -4.0, 0.0]], [[0.0, 4.0, 0.0]]]])  # unsure, sure class
    grads = {}
    for soft in (False, True):
        x = logits.clone().requires_grad_(True)
        unpainted_background_loss(x, target, soft=soft).backward()
        grads[soft] = x.grad[0, 0, 0]  # background logit, per pixel
    assert float(grads[False][2]) == 0.0 and float(grads[True][2]) == 0.0
    assert float(grads[True][0]) == pytest.approx(float(grads[False][0]) / 2)  # p_bg = 0.5
    assert float(grads[True][1]) < 0.0  # still towards background ...
    assert abs(float(grads[True][1])) < abs(float(grads[False][1])) / 100  # ... but barely


def test_losses_of_complete_masks_are_unchanged_by_the_sparse_path() -> None:
    """Painted pixels of a sparse target weigh exactly what the same pixels of a complete
    target weigh (the mean is over painted pixels only)."""
    torch.manual_seed(1)
    logits = torch.randn(1, 2, 8, 8)
    target = torch.randint(0, 2, (1, 8, 8))
    sparse = target.clone()
    sparse[:, :, 4:] = NOT_PAINTED
    assert torch.allclose(focal_loss(logits[..., :4], target[..., :4]),
                          focal_loss(logits, sparse))
    assert torch.allclose(dice_loss(logits[..., :4], target[..., :4]), dice_loss(logits, sparse))


def test_teacher_ignores_unpainted_support_pixels() -> None:
    """What the support shows where nobody painted barely moves the teacher's output; with
    everything painted the weights change nothing."""
    from engine.nn.backbones import build_backbone

    taps = build_backbone("efficientnet_lite0").taps
    teacher = MaskAttentionTeacher(taps, heads=8, dropout=0.0).eval()
    torch.manual_seed(2)
    feats = [torch.randn(1, t.channels, 8, 8) for t in taps]
    support = [torch.randn(1, 1, t.channels, 8, 8) for t in taps]
    masks = torch.zeros(1, 1, 1, 64, 64)
    masks[..., :32, :] = 1.0
    painted = torch.zeros(1, 1, 64, 64)
    painted[..., :16, :] = 1.0  # class strokes in the top quarter
    painted[..., 48:, :] = 1.0  # background strokes in the bottom quarter
    with torch.no_grad():
        plain = teacher(feats, support, masks)
        ones = teacher(feats, support, masks, torch.ones(1, 1, 64, 64))
        a = teacher(feats, support, masks, painted)
        noisy = [s.clone() for s in support]
        for s in noisy:
            s[..., 2:6, :] = torch.randn_like(s[..., 2:6, :]) * 5  # unpainted rows only
        b = teacher(feats, support, masks, painted)
        b_noisy = teacher(feats, noisy, masks, painted)
        c_noisy = teacher(feats, noisy, masks)
    for k in plain:
        assert torch.allclose(plain[k], ones[k], atol=1e-5)
        assert torch.allclose(a[k], b[k])
        assert float((b_noisy[k] - b[k]).abs().max()) < 0.02
    assert max(float((c_noisy[k] - plain[k]).abs().max()) for k in plain) > 0.1


def test_a_class_learned_from_scribbles_only() -> None:
    rng = np.random.default_rng(5)
    images, masks = make_set(0, 5)
    sparse = [scribbles(m, rng) for m in masks]
    assert all((s == NOT_PAINTED).mean() > 0.8 for s in sparse)  # mostly unpainted
    cfg = replace(FAST, max_steps=120)
    _, model = run(learn(images, sparse, [ClassInfo(1, "disc", (255, 0, 0))], cfg))
    test_images, test_masks = make_set(100, 6)
    acc = IoUAccumulator(1)
    from engine.infer.predict import Predictor

    predictor = Predictor(model)
    for im, m in zip(test_images, test_masks):
        acc.add(predictor.predict(im).labels, m)
    assert acc.mean() > 0.85, acc.mean()


def test_project_rule_complete_unless_background_is_painted() -> None:
    classes_only = np.full((4, 4), NOT_PAINTED, np.uint8)
    classes_only[0, 0] = 1
    assert (training_mask(classes_only) == NOT_PAINTED).sum() == 0  # unpainted = background
    scribbled = classes_only.copy()
    scribbled[3, 3] = 0
    assert (training_mask(scribbled) == NOT_PAINTED).sum() == 14  # unpainted = ignored
    old = np.zeros((4, 4), np.uint8)
    old[1, 1] = 1
    assert np.array_equal(training_mask(old), old)


def test_iou_skips_unpainted_pixels() -> None:
    target = np.array([[1, 0, NOT_PAINTED, NOT_PAINTED]], np.uint8)
    acc = IoUAccumulator(1)
    acc.add(np.array([[1, 0, 1, 0]], np.uint8), target)
    assert acc.mean() == 1.0


def test_ignore_value_reads_scribble_masks() -> None:
    raw = np.array([[0, 128, 255, 128]], np.uint8)
    assert apply_ignore_value(raw, 128).tolist() == [[0, NOT_PAINTED, 1, NOT_PAINTED]]
    ids = np.array([[0, 7, 1, 2]], np.uint8)
    assert apply_ignore_value(ids, 7).tolist() == [[0, NOT_PAINTED, 1, 2]]
    with pytest.raises(ValueError, match="reserved"):
        apply_ignore_value(np.array([[0, 1, 255]], np.uint8), 7)


def test_cli_learn_with_ignore_value(tmp_path: Path) -> None:
    """`distillfss learn --ignore-value 128` on 0 / 255 / 128 scribble masks; labelling with
    the model gives no folder range, and says why (it is calibrated on complete masks)."""
    rng = np.random.default_rng(6)
    images, masks = make_set(1, 5)
    (tmp_path / "im").mkdir()
    (tmp_path / "mk").mkdir()
    for i, (im, m) in enumerate(zip(images, masks)):
        Image.fromarray(im).save(tmp_path / "im" / f"{i}.png")
        s = scribbles(m, rng)
        raw = np.where(s == NOT_PAINTED, 128, np.where(s == 1, 255, 0)).astype(np.uint8)
        Image.fromarray(raw).save(tmp_path / "mk" / f"{i}.png")
    out = tmp_path / "m.distillfss"
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "learn", "--images",
                           str(tmp_path / "im"), "--masks", str(tmp_path / "mk"), "--shots", "5",
                           "--out", str(out), "--max-steps", "5", "--no-loo", "--input-size",
                           "128", "--ignore-value", "128"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "5 with unpainted pixels" in proc.stderr
    from engine.nn.modelfile import load_model

    model = load_model(out)
    assert [c.id for c in model.classes] == [1]
    assert model.metadata["scribbled_examples"] == 5
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "label", "--model", str(out),
                           "--input", str(tmp_path / "im"), "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "learned from scribbles" in proc.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 5
