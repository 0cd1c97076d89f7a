"""What the ``distillfss`` subcommands share: exit codes, the one-line error, progress bars,
driving a learn generator and describing its leave-one-out estimate."""

from __future__ import annotations

import sys

from engine.learning.estimate import (
    ESTIMATE_CAVEAT,
    HELD_OUT_CAVEAT,
    coverage,
    folder_estimate,
    range_text,
    range_verdict,
)
from engine.run import drive

EXIT_OK, EXIT_ERROR, EXIT_SKIPPED, EXIT_CANCELLED = 0, 1, 3, 130

FLIP_HELP = ("average the predictions over the image and its mirror images: better labels "
             "(+1 to +2 IoU points on the benchmark sets), ~3x the prediction time on a CPU")


class CliError(ValueError):
    """An expected failure: printed as one line, exit code ``EXIT_ERROR``."""


def progress_bar(total: int, desc: str, unit: str = "it"):
    """A tqdm bar on stderr; redrawn at most every 0.2 s on a terminal, every 5 s otherwise."""
    from tqdm import tqdm

    tty = sys.stderr is not None and sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                mininterval=0.2 if tty else 5.0)


def run_learn(gen, bar_desc: str = "learn"):
    """Drive a learn generator with a progress bar; returns the model."""
    bars: dict = {"bar": None, "phase": None}

    def show(p) -> None:
        if p.phase == "trained":  # the model before the leave-one-out folds: not needed
            return
        if p.phase != bars["phase"]:
            if bars["bar"] is not None:
                bars["bar"].close()
            bars["phase"] = p.phase
            bars["bar"] = progress_bar(p.total_steps, f"{bar_desc}: {p.phase}", "step")
        bar = bars["bar"]
        bar.total, bar.n = p.total_steps, p.step
        if p.phase not in ("features", "trees", "pseudo"):
            bar.set_postfix(loss=f"{p.loss:.3f}", refresh=False)
        bar.refresh()

    try:
        return drive(gen, show)
    finally:
        if bars["bar"] is not None:
            bars["bar"].close()


def describe_loo(meta: dict) -> str:
    """The held-out (leave-one-out) check of a learned model: its figure and which examples
    the others do not cover; no verdict (see :mod:`engine.learning.estimate`)."""
    miou = meta.get("loo_miou")
    if miou is None:
        return "held-out check: not available (needs at least 2 support images)"
    per = ", ".join(f"{k} {v * 100:.1f}" for k, v in meta.get("loo_iou", {}).items()
                    if v is not None)
    painted = " on the pixels you painted" if meta.get("scribbled_examples") else ""
    lines = [f"held-out check (leave-one-out IoU{painted}): {miou * 100:.1f} ({per})"]
    cover = coverage(meta.get("loo_per_support"), meta.get("support_files"))
    if cover:
        lines.append(f"  {cover}")
    lines.append(f"  ({HELD_OUT_CAVEAT})")
    return "\n".join(lines)


def describe_folder_estimate(expected, reason: str | None = None) -> str:
    """The estimate over the images just labelled (an
    :class:`engine.infer.expected.ExpectedIoU`): a range, a verdict worded from all of it;
    ``reason``: why there is none (:func:`engine.learning.estimate.no_estimate_reason`)."""
    if reason:
        return f"estimated IoU: none ({reason})"
    est = folder_estimate(expected.mean(), expected.images)
    if est is None:
        return ("estimated IoU: none (no image was labelled in this run; images resumed from "
                "an earlier run do not count)")
    return (f"estimated IoU on the {est.images} image(s) labelled: {range_text(est)} — "
            f"{range_verdict(est)}\n  ({ESTIMATE_CAVEAT})")
