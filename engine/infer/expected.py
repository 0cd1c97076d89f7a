"""The IoU a model expects of its own labels, from its probabilities (no ground truth).

A model believes its own mistakes, so this reads high; :mod:`engine.learning.estimate` pairs
it with the held-out (leave-one-out) estimate, which reads low.
"""

from __future__ import annotations

import numpy as np


def expected_sums(labels: np.ndarray, confidence: np.ndarray, num_classes: int) -> np.ndarray:
    """``(3, 1 + N)`` float64 sums of one prediction, per label value: confidence (expected
    true positives), pixel count, and ``1 - confidence`` (probability left to other classes).

    ``labels``: class ids 0..N (0 = background); ``confidence``: probability of the predicted
    class.  Small (a few numbers per image): what :class:`ExpectedIoU` accumulates.  It runs
    for every labelled image, at the image's own size, so it avoids a weighted ``bincount``
    (which first copies both arrays to 64 bits; figures:
    ``benchmarks/results/engine-docstring-figures.md``): one float64-accumulated dot product
    and one count per class, background by difference.
    """
    flat = labels.ravel()
    conf = confidence.ravel()
    k = num_classes + 1
    tp, labelled = np.zeros(k), np.zeros(k)
    for c in range(1, k):
        mask = (flat == c).view(np.uint8)
        labelled[c] = np.count_nonzero(mask)
        tp[c] = np.einsum("i,i->", conf, mask, dtype=np.float64)
    labelled[0] = flat.size - labelled[1:].sum()
    tp[0] = float(conf.sum(dtype=np.float64)) - tp[1:].sum()
    return np.stack([tp, labelled, labelled - tp])


class ExpectedIoU:
    """Accumulates, over predictions, each class's IoU as the model itself expects it.

    For a pixel labelled c with confidence p, the model expects p of a true positive; a pixel
    labelled anything else is of class c with the probability left over, ``1 - p``, shared
    evenly among the other labels (exact with one class, where it is all of it).  Expected
    IoU of c = expected true positives / (pixels labelled c + expected missed pixels of c).
    """

    def __init__(self, num_classes: int) -> None:
        self.n = num_classes
        self.sums = np.zeros((3, num_classes + 1))
        self.images = 0

    def add(self, labels: np.ndarray, confidence: np.ndarray) -> None:
        """Add one prediction (see :func:`expected_sums`)."""
        self.add_sums(expected_sums(labels, confidence, self.n))

    def add_sums(self, sums: np.ndarray) -> None:
        """Add the :func:`expected_sums` of one prediction."""
        self.sums += sums
        self.images += 1

    def per_class(self) -> np.ndarray:
        """Expected IoU in [0, 1] per foreground class (NaN: nothing labelled or expected)."""
        tp, labelled, left = self.sums
        missed = (left.sum() - left) / self.n
        union = labelled + missed
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)
        return iou[1:]

    def mean(self) -> float:
        """Mean expected IoU over the foreground classes (NaN when none has any)."""
        per = self.per_class()
        return float(np.nanmean(per)) if np.isfinite(per).any() else float("nan")
