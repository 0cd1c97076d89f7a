"""The IoU estimate a user is shown: the model's own expectation over the folder it labelled,
corrected for its over-confidence, as a range.

Two estimates exist, and neither is right alone:

- **held-out** (the leave-one-out folds of :mod:`engine.learning.loo`): each example is
  predicted by a short model trained on the others.  It is available as soon as learning
  ends but swings both ways: one example unlike the others reads as a failure although the
  folder may hold few images like it, and the folds are shorter than the real training.
- **self** (:class:`engine.infer.expected.ExpectedIoU`): the IoU the model expects from its
  own probabilities over the images it labelled.  It covers the whole folder, not five
  images, but reads high: a model trained to fit five examples is sure of many of its
  mistakes, the more so the worse it is.  How it relates to the test IoU was measured on the
  benchmark draws (``benchmarks/estimate.py``, ``benchmarks/results/estimate.md``): a straight
  line (:data:`CALIBRATION`, fitted on all draws; the same fit on four datasets was checked on
  the fifth, for each of the five).

So the shown estimate is the calibrated self estimate ± :data:`HALF_WIDTH`, once the folder is
labelled; before that, only the held-out figure, with no verdict.  The verdict is worded from
the range, so it never claims "good" for a range that reaches "weak".  The line was fitted on
full runs from 5 examples with plain predictions; labels it does not fit (flip-averaged, from
fewer examples, from scribbles, from a Live round or a refined model: see the results files;
for scribbles ``benchmarks/results/scribble-halo.md``) get no range but the reason
(:func:`no_estimate_reason`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CALIBRATION = (1.11, -0.36)  # test IoU ~ slope * self + intercept (IoU in [0, 1])
HALF_WIDTH = 0.10  # the range shown: estimate ± this

HELD_OUT_CAVEAT = ("A quick check: each example is predicted by a short model trained on the "
                   "others. It can read far too low (an example unlike the others) or too high. "
                   "Labelling the folder gives an estimate over all its images.")


@dataclass(frozen=True)
class Estimate:
    """The range shown (IoU in [0, 1]) and what it rests on."""

    low: float
    high: float
    images: int  # images the model's expectation is over

    @property
    def middle(self) -> float:
        return (self.low + self.high) / 2


def calibrated(expected: float, calibration: tuple[float, float] = CALIBRATION) -> float:
    """The test IoU the self estimate ``expected`` stands for, in [0, 1]."""
    slope, intercept = calibration
    return min(1.0, max(0.0, slope * expected + intercept))


def folder_estimate(expected: float | None, images: int,
                    calibration: tuple[float, float] = CALIBRATION) -> Estimate | None:
    """The range from the model's own expected IoU over ``images`` labelled images (None when
    there is none to go on)."""
    if expected is None or not math.isfinite(expected) or images < 1:
        return None
    mid = calibrated(expected, calibration)
    return Estimate(max(0.0, mid - HALF_WIDTH), min(1.0, mid + HALF_WIDTH), images)


def range_text(est: Estimate) -> str:
    """``"45-65 %"``."""
    return f"{est.low * 100:.0f}-{est.high * 100:.0f} %"


def range_verdict(est: Estimate) -> str:
    """Plain words for the whole range: a word only where all of it agrees."""
    if est.low >= 0.6:
        return "Good: predictions should need only small corrections."
    if est.high < 0.3:
        return ("Weak: expect to correct most predictions; paint more examples, varied like "
                "the folder.")
    if est.low >= 0.4:
        return "Fair to good: expect some corrections."
    if est.high < 0.5:
        return "Weak to fair: expect many corrections; a few more examples should help."
    return "Uncertain: check a few predictions before trusting the folder's labels."


REFINED = ("a model refined on the folder learned from its own confident labels there, so its "
           "confidence on those images says little")
FLIP_AVERAGED = ("the estimate is calibrated on plain predictions, and flip-averaged ones are "
                 "much less sure of themselves (it would read far too low); turn flip "
                 "averaging off for one")


MIN_EXAMPLES = 5  # the line was fitted on models learned from 5 examples (10 also measured)
FEW_EXAMPLES = (f"the estimate is calibrated on models learned from {MIN_EXAMPLES} or more "
                "examples; from fewer, a model is sure of far more of its mistakes (with one "
                "example it missed the truth on 4 of 5 benchmark draws): paint more examples")


LIVE = ("a Live model learns in short rounds, and the estimate is calibrated on full runs: "
        "press Learn class for one")

SCRIBBLED = ("the estimate is calibrated on models learned from completely painted examples; "
             "one learned from scribbles is sure of the band it adds around the objects, which "
             "nobody painted: look at a few predictions")


def no_estimate_reason(refined: bool, flip_average: bool,
                       examples: int | None = None, live: bool = False,
                       scribbled: bool = False) -> str | None:
    """Why labels made this way get no folder estimate (None: they get one); ``examples``:
    how many examples the model learned from (None: unknown, an older model file); ``live``:
    a Live round's model; ``scribbled``: some example had unpainted pixels."""
    if refined:
        return REFINED
    if live:
        return LIVE
    if flip_average:
        return FLIP_AVERAGED
    if examples is not None and examples < MIN_EXAMPLES:
        return FEW_EXAMPLES
    if scribbled:
        return SCRIBBLED
    return None


ESTIMATE_CAVEAT = ("Estimated from the model's own confidence over the images it labelled, "
                   "corrected for how over-confident such models were on our benchmarks; "
                   "the true figure was outside such a range on some draws: look at a few "
                   "predictions too.")


WELL = 0.5  # an example whose leave-one-out IoU reaches this is "covered" by the others


def coverage(per_support, names=None) -> str | None:
    """One sentence on which examples the others cover, from ``loo_per_support`` (IoU in
    [0, 1] or None per example) and the examples' names (default "example 1", ...).

    With few examples, one unlike the rest is predicted badly by a model trained on the
    others and pulls the estimate down, although images like the *other* examples may be
    labelled well (`distillfss demo`: held-out IoU 67-77 % on three examples, 17 % and 7 %
    on two, estimate 31 %, test IoU 72 %); naming
    those examples tells the user which kind of image needs more examples.
    """
    if not per_support:
        return None
    names = list(names) if names and len(names) == len(per_support) else [
        f"example {i + 1}" for i in range(len(per_support))]
    scored = [(n, v) for n, v in zip(names, per_support) if v is not None]
    if not scored:
        return None
    weak = [(n, v) for n, v in scored if v < WELL]
    good = len(scored) - len(weak)
    if not weak:
        return f"Each of the {len(scored)} examples is predicted well by the others."
    listed = ", ".join(f"{n} ({v * 100:.0f} %)" for n, v in weak)
    if good == 0:
        return f"No example is predicted well by the others: {listed}."
    return (f"{good} of {len(scored)} examples are predicted well by the others; not "
            f"{listed}: images that look like these need more examples.")
