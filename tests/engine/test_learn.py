"""The learner: accuracy on synthetic shapes, multi-class, cancel, determinism, input checks."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import FAST, run
from synthetic import make_set

from engine.infer.predict import Predictor
from engine.io.labels import ClassInfo
from engine.learning.metrics import IoUAccumulator
from engine.learning.train import GpuSettings, LearnConfig, LearnProgress, effective_config, learn


def _iou(model, seed: int, **kw) -> np.ndarray:
    images, masks = make_set(seed, 6, **kw)
    acc = IoUAccumulator(model.num_classes)
    predictor = Predictor(model, "cpu")
    for im, m in zip(images, masks):
        acc.add(predictor.predict(im).labels, m)
    return acc.per_class()


def test_student_learns_discs_from_five_examples(disc_model):
    iou = _iou(disc_model, seed=99)
    assert iou[0] > 0.9, f"disc IoU {iou[0]:.3f}"


def test_two_classes_in_one_model_are_both_found(two_class_model):
    iou = _iou(two_class_model, seed=98, squares=True, n_shapes=4)
    assert two_class_model.num_classes == 2
    assert iou[0] > 0.85 and iou[1] > 0.85, f"per-class IoU {iou}"


def test_progress_records_are_frozen_plain_values():
    images, masks = make_set(1, 3)
    records, model = run(learn(images, masks, None, replace(FAST, max_steps=5)))
    assert records[0].phase == "features"
    train = [r for r in records if r.phase == "train"]
    assert [r.step for r in train] == [1, 2, 3, 4, 5]
    assert all(isinstance(r.loss, float) and np.isfinite(r.loss) for r in train)
    with pytest.raises(AttributeError):
        records[-1].step = 0  # type: ignore[misc]
    assert model.metadata["steps"] == 5
    assert model.classes[0].name == "class1"


def test_cancel_stops_within_one_step():
    images, masks = make_set(2, 4)
    gen = learn(images, masks, None, replace(FAST, max_steps=500))
    seen: list[LearnProgress] = []
    for rec in gen:
        seen.append(rec)
        if rec.phase == "train" and rec.step == 3:
            break
    t = time.perf_counter()
    gen.close()
    assert time.perf_counter() - t < 1.0
    with pytest.raises(StopIteration):
        next(gen)
    assert max(r.step for r in seen if r.phase == "train") == 3


def test_same_seed_gives_the_same_model_on_cpu():
    images, masks = make_set(3, 3)
    cfg = replace(FAST, max_steps=6, seed=7, device="cpu")
    _, a = run(learn(images, masks, None, cfg))
    _, b = run(learn(images, masks, None, cfg))
    _, c = run(learn(images, masks, None, replace(cfg, seed=8)))
    sa, sb, sc = a.trainable_state(), b.trainable_state(), c.trainable_state()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_leave_one_out_estimate_is_reported():
    images, masks = make_set(4, 3)
    _, model = run(learn(images, masks, [ClassInfo(1, "disc")],
                         replace(FAST, max_steps=20, loo_steps=15)))
    loo = model.metadata["loo_iou"]["disc"]
    assert 0.0 <= loo <= 1.0
    assert model.metadata["loo_miou"] == pytest.approx(loo)
    per = model.metadata["loo_per_support"]  # one held-out IoU per example, in their order
    assert len(per) == 3 and all(0.0 <= v <= 1.0 for v in per)
    assert min(per) <= loo <= max(per)


def test_trained_model_is_handed_out_before_the_leave_one_out_folds():
    images, masks = make_set(4, 3)
    gen = learn(images, masks, [ClassInfo(1, "disc")], replace(FAST, max_steps=8, loo_steps=3))
    phases, early = [], None
    try:
        while True:
            rec = next(gen)
            phases.append(rec.phase)
            if rec.phase == "trained":
                state = rec.model.trainable_state()
                early = {k: v.detach().cpu().clone() for k, v in state.items()}
                assert "loo_miou" not in rec.model.metadata and rec.model.metadata["steps"] == 8
    except StopIteration as stop:
        model = stop.value
    assert phases.count("trained") == 1
    assert phases.index("trained") > max(i for i, ph in enumerate(phases) if ph == "train")
    assert phases.index("trained") < phases.index("validate")
    final = model.trainable_state()
    assert all(torch.equal(early[k], final[k].cpu()) for k in final)  # the folds change nothing
    assert model.metadata["loo_miou"] is not None
    _, no_loo = run(learn(images, masks, [ClassInfo(1, "disc")],
                          replace(FAST, max_steps=8, loo_steps=0)))
    assert "loo_miou" not in no_loo.metadata or no_loo.metadata["loo_miou"] is None


@pytest.mark.parametrize("change, message", [
    (lambda ims, ms: ([], []), "no support images"),
    (lambda ims, ms: (ims, [m[:-1] for m in ms]), "mask size"),
    (lambda ims, ms: (ims, [m * 0 for m in ms]), "not painted"),
    (lambda ims, ms: (ims, [m * 3 for m in ms]), "class id 3"),
])
def test_bad_support_sets_get_clear_errors(change, message):
    images, masks = make_set(5, 2)
    ims, ms = change(images, masks)
    with pytest.raises(ValueError, match=message):
        next(learn(ims, ms, [ClassInfo(1, "disc")], FAST))


def test_single_example_is_split_into_two_halves_with_foreground():
    from engine.io.resize import resize_mask
    from engine.learning.train import split_single_support

    image = np.zeros((300, 400, 3), np.uint8)
    mask = np.zeros((300, 400), np.uint8)
    mask[100:140, 50:90] = 1      # one object on the left ...
    mask[150:200, 300:380] = 1    # ... and one on the right
    (a, b), (ma, mb) = split_single_support(image, mask, 200)
    # At working scale (long side 400 -> 200), cut across the long side, disjoint, both with
    # foreground, and together exactly the resized image.
    assert a.shape[0] == b.shape[0] == 150 and a.shape[1] + b.shape[1] == 200
    assert ma.any() and mb.any()
    assert ma.sum() + mb.sum() == resize_mask(mask, (150, 200)).sum()
    # Foreground only near one edge: a half would be empty, so no split.
    edge = np.zeros_like(mask)
    edge[:, :30] = 1
    assert split_single_support(image, edge, 200) is None


def test_one_example_learns_discs():
    """K = 1 still learns the synthetic class (trained on the two halves of the example)."""
    images, masks = make_set(3, 1, n_shapes=6)
    _, model = run(learn(images, masks, [ClassInfo(1, "disc")], replace(FAST, max_steps=80)))
    iou = _iou(model, seed=99)
    assert iou[0] > 0.8, f"disc IoU {iou[0]:.3f} from one example"


def test_gpu_settings_apply_on_a_gpu_only():
    cfg = LearnConfig(input_size=256)
    on_cpu = effective_config(cfg, torch.device("cpu"))
    assert (on_cpu.crop, on_cpu.batch_episodes, on_cpu.max_steps) == (192, 4, 150)
    on_gpu = effective_config(cfg, torch.device("cuda"))
    gpu = GpuSettings()
    assert on_gpu.batch_episodes == gpu.batch_episodes and on_gpu.gpu is None
    assert (on_gpu.max_steps, on_gpu.time_budget_s) == (gpu.max_steps, gpu.time_budget_s)
    assert on_gpu.crop == min(gpu.crop, 256)  # crops never exceed the input
    assert effective_config(replace(cfg, gpu=None), torch.device("cuda")).batch_episodes == 4
    assert effective_config(cfg, torch.device("mps")).batch_episodes == 4  # not measured there


def test_first_progress_comes_before_the_model_is_built():
    images, masks = make_set(1, 2)
    gen = learn(images, masks, None, replace(FAST, max_steps=2))
    first = next(gen)
    gen.close()
    assert first.phase == "features" and first.step == 0 and "CPU" in first.message


def test_same_seed_same_model_on_a_busy_machine():
    """The model depends on the seed and settings, not on how busy the CPU is: the default
    safety limit stays armed, and two processes burning both cores run alongside once."""
    import subprocess
    import sys

    images, masks = make_set(5, 3)
    cfg = replace(FAST, max_steps=25, loo_steps=3, device="cpu",
                  time_budget_s=LearnConfig().time_budget_s)
    _, idle = run(learn(images, masks, None, cfg))
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        _, busy = run(learn(images, masks, None, cfg))
    finally:
        for p in burners:
            p.kill()
            p.wait()
    assert idle.metadata["steps"] == busy.metadata["steps"] == 25
    assert "stopped_by_time" not in busy.metadata
    a, b = idle.trainable_state(), busy.trainable_state()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs under load"
    assert idle.metadata["loo_miou"] == busy.metadata["loo_miou"]


def test_safety_time_limit_is_reported_when_it_fires():
    images, masks = make_set(6, 2)
    records, model = run(learn(images, masks, None,
                               replace(FAST, max_steps=500, time_budget_s=0.0)))
    assert model.metadata["steps"] < 500 and model.metadata["stopped_by_time"] is True
    assert any("safety limit" in r.message for r in records)
