"""The estimate a user is shown: the model's own expectation, corrected, as a range; the
held-out check; which examples the others do not cover."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cli.commands import describe_loo
from engine.cli.common import describe_folder_estimate
from engine.infer.expected import ExpectedIoU, expected_sums
from engine.learning.estimate import (
    CALIBRATION,
    FEW_EXAMPLES,
    FLIP_AVERAGED,
    HALF_WIDTH,
    LIVE,
    REFINED,
    SCRIBBLED,
    Estimate,
    coverage,
    folder_estimate,
    no_estimate_reason,
    range_verdict,
)


def test_expected_iou_of_a_binary_prediction_by_hand():
    labels = np.array([[1, 1, 0, 0]], np.uint8)
    conf = np.array([[0.9, 0.7, 0.8, 1.0]], np.float32)
    acc = ExpectedIoU(1)
    acc.add(labels, conf)
    # expected TP 0.9 + 0.7; labelled 2; expected missed fg among bg pixels 0.2 + 0.0
    assert acc.mean() == pytest.approx(1.6 / (2 + 0.2))
    assert acc.images == 1


def test_a_sure_model_expects_iou_one_and_an_unsure_one_less():
    labels = np.zeros((8, 8), np.uint8)
    labels[2:6, 2:6] = 1
    sure, unsure = ExpectedIoU(1), ExpectedIoU(1)
    sure.add(labels, np.ones((8, 8), np.float32))
    unsure.add(labels, np.full((8, 8), 0.6, np.float32))
    assert sure.mean() == pytest.approx(1.0)
    assert unsure.mean() < 0.5


def test_expected_iou_accumulates_sums_over_images_and_classes():
    rng = np.random.default_rng(0)
    labels = [rng.integers(0, 3, (5, 7)).astype(np.uint8) for _ in range(3)]
    confs = [rng.uniform(0.4, 1.0, (5, 7)).astype(np.float32) for _ in range(3)]
    whole, parts = ExpectedIoU(2), ExpectedIoU(2)
    whole.add(np.concatenate(labels), np.concatenate(confs))
    for lab, c in zip(labels, confs):
        parts.add_sums(expected_sums(lab, c, 2))
    np.testing.assert_allclose(parts.per_class(), whole.per_class())
    assert parts.images == 3 and all(0 < v < 1 for v in parts.per_class())
    # class 2 never labelled and no probability left: NaN for it, the mean of the others
    only = ExpectedIoU(2)
    only.add(np.ones((3, 3), np.uint8), np.ones((3, 3), np.float32))
    assert np.isnan(only.per_class()[1]) and only.mean() == pytest.approx(1.0)


def test_the_range_is_the_corrected_expectation_plus_minus_the_half_width():
    slope, intercept = CALIBRATION
    est = folder_estimate(0.8, 10)
    assert est.middle == pytest.approx(slope * 0.8 + intercept)
    assert est.high - est.low == pytest.approx(2 * HALF_WIDTH)
    assert est.middle < 0.8  # a model's own expectation reads high: the range is lower
    low = folder_estimate(0.1, 3)
    assert low.low == 0.0 and low.high <= HALF_WIDTH  # clipped at 0
    assert folder_estimate(None, 5) is None and folder_estimate(float("nan"), 5) is None
    assert folder_estimate(0.7, 0) is None  # nothing labelled in this run


def test_the_verdict_never_claims_more_than_the_whole_range():
    assert range_verdict(Estimate(0.62, 0.82, 9)).startswith("Good")
    assert range_verdict(Estimate(0.42, 0.62, 9)).startswith("Fair to good")
    assert range_verdict(Estimate(0.35, 0.55, 9)).startswith("Uncertain")
    assert range_verdict(Estimate(0.25, 0.45, 9)).startswith("Weak to fair")
    assert range_verdict(Estimate(0.05, 0.25, 9)).startswith("Weak")


def test_cli_describes_the_folder_estimate_or_says_why_there_is_none():
    acc = ExpectedIoU(1)
    assert "none" in describe_folder_estimate(acc)
    labels = np.zeros((4, 4), np.uint8)
    labels[:2] = 1
    acc.add(labels, np.full((4, 4), 0.95, np.float32))
    text = describe_folder_estimate(acc)
    est = folder_estimate(acc.mean(), 1)
    assert f"{est.low * 100:.0f}-{est.high * 100:.0f} %" in text and "1 image(s)" in text
    # refined on the folder, or flip-averaged labels: no estimate, and why
    assert no_estimate_reason(False, False) is None
    assert no_estimate_reason(True, True) == REFINED
    assert no_estimate_reason(False, True) == FLIP_AVERAGED
    assert no_estimate_reason(False, False, examples=3) == FEW_EXAMPLES
    assert no_estimate_reason(False, False, examples=5) is None
    assert no_estimate_reason(False, False, examples=None) is None  # older model files
    assert no_estimate_reason(False, False, live=True) == LIVE
    assert no_estimate_reason(False, False, examples=5, scribbled=True) == SCRIBBLED
    assert no_estimate_reason(False, False, examples=3, scribbled=True) == FEW_EXAMPLES
    text = describe_folder_estimate(acc, FLIP_AVERAGED)
    assert text.startswith("estimated IoU: none") and "flip" in text and " %" not in text


def test_coverage_names_the_uncovered_examples():
    text = coverage([0.75, 0.82, 0.13, None, 0.03], ["a.png", "b.png", "c.png", "d.png", "e.png"])
    assert text.startswith("2 of 4 examples are predicted well")
    assert "c.png (13 %)" in text and "e.png (3 %)" in text and "a.png" not in text
    assert coverage([0.7, 0.6]) == "Each of the 2 examples is predicted well by the others."
    assert "example 2 (10 %)" in coverage([0.2, 0.1], ["only one name"])  # names ignored
    assert coverage(None) is None and coverage([None, None]) is None


def test_cli_held_out_line_lists_uncovered_examples_and_gives_no_verdict():
    meta = {"loo_miou": 0.31, "loo_iou": {"nucleus": 0.31},
            "loo_per_support": [0.75, 0.82, 0.13, 0.81, 0.03],
            "support_files": ["1.png", "2.png", "3.png", "4.png", "5.png"]}
    text = describe_loo(meta)
    assert "31.0" in text and "held-out check" in text
    assert "3 of 5 examples" in text and "3.png (13 %)" in text and "5.png (3 %)" in text
    assert not any(w in text for w in ("Weak", "Good", "Mixed", "Excellent"))
    old = describe_loo({"loo_miou": 0.31, "loo_iou": {"nucleus": 0.31}})  # older model files
    assert "31.0" in old and "examples are predicted" not in old
    assert "painted" not in old
    scribbled = describe_loo({**meta, "scribbled_examples": 5})  # scores painted pixels only
    assert "leave-one-out IoU on the pixels you painted): 31.0" in scribbled


def test_estimate_benchmark_quick_mode(tmp_path):
    """``benchmarks/estimate.py --quick`` runs end to end and writes its table."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "estimate.md"
    proc = subprocess.run([sys.executable, "estimate.py", "--quick", "--out", str(out)],
                          cwd=root / "benchmarks", capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = next(line for line in out.read_text().splitlines() if line.startswith("| nuclei | 0 |"))
    test, held_out, self_ = (float(c) for c in row.strip("|").split("|")[2:5])
    assert 0 <= test <= 100 and 0 <= held_out <= 100 and 0 < self_ <= 100
