"""Plain words for the leave-one-out estimate: the verdict and which examples are uncovered."""

from __future__ import annotations

from engine.cli.commands import describe_loo
from engine.learning.verdict import coverage, verdict


def test_verdict_follows_the_estimate():
    assert verdict(None).startswith("No estimate")
    assert verdict(0.85).startswith("Excellent")
    assert verdict(0.65).startswith("Good")
    assert verdict(0.45).startswith("Fair")
    assert verdict(0.2).startswith("Weak")


def test_a_minority_of_uncovered_examples_reads_mixed_not_weak():
    # The demo's shape: three examples predicted well by the others, two not at all.
    per = [0.75, 0.82, 0.13, 0.81, 0.03]
    assert verdict(0.31, per).startswith("Mixed")
    assert verdict(0.31, [0.2, 0.3, 0.1, 0.6, 0.7]).startswith("Weak")  # most uncovered
    assert verdict(0.65, per).startswith("Good")  # a high estimate speaks for itself
    assert verdict(0.31, [0.9, 0.1]).startswith("Weak")  # too few examples to say


def test_coverage_names_the_uncovered_examples():
    text = coverage([0.75, 0.82, 0.13, None, 0.03], ["a.png", "b.png", "c.png", "d.png", "e.png"])
    assert text.startswith("2 of 4 examples are predicted well")
    assert "c.png (13 %)" in text and "e.png (3 %)" in text and "a.png" not in text
    assert coverage([0.7, 0.6]) == "Each of the 2 examples is predicted well by the others."
    assert "example 2 (10 %)" in coverage([0.2, 0.1], ["only one name"])  # names ignored
    assert coverage(None) is None and coverage([None, None]) is None


def test_cli_line_lists_uncovered_examples_by_file_name():
    meta = {"loo_miou": 0.31, "loo_iou": {"nucleus": 0.31},
            "loo_per_support": [0.75, 0.82, 0.13, 0.81, 0.03],
            "support_files": ["1.png", "2.png", "3.png", "4.png", "5.png"]}
    text = describe_loo(meta)
    assert "31.0" in text and "Mixed" in text
    assert "3 of 5 examples" in text and "3.png (13 %)" in text and "5.png (3 %)" in text
    old = describe_loo({"loo_miou": 0.31, "loo_iou": {"nucleus": 0.31}})  # older model files
    assert "Weak" in old and "examples are predicted" not in old
