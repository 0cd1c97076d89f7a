"""Foreground IoU accumulated over a whole dataset (method.md §5: one global confusion matrix)."""

from __future__ import annotations

import numpy as np

from engine.io.labels import NOT_PAINTED


class IoUAccumulator:
    """Accumulates a confusion matrix over many ``(H, W)`` label maps with classes 0..N."""

    def __init__(self, num_classes: int) -> None:
        self.n = num_classes + 1
        self.confusion = np.zeros((self.n, self.n), dtype=np.int64)

    def add(self, pred: np.ndarray, target: np.ndarray) -> None:
        """Add one prediction/ground-truth pair (same shape, uint8 class ids); target pixels
        that are not painted (:data:`engine.io.labels.NOT_PAINTED`) are not counted."""
        if pred.shape != target.shape:
            raise ValueError(f"prediction {pred.shape} and mask {target.shape} differ in size")
        t = np.minimum(target.astype(np.int64), self.n - 1).ravel()
        p = np.minimum(pred.astype(np.int64), self.n - 1).ravel()
        keep = np.asarray(target).ravel() != NOT_PAINTED
        if not keep.all():
            t, p = t[keep], p[keep]
        self.confusion += np.bincount(t * self.n + p, minlength=self.n ** 2).reshape(self.n, self.n)

    def per_class(self) -> np.ndarray:
        """IoU of each foreground class (1..N) in [0, 1]; NaN where the class never occurs."""
        c = self.confusion
        inter = np.diag(c).astype(np.float64)
        union = c.sum(0) + c.sum(1) - np.diag(c)
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = inter / union
        return iou[1:]

    def mean(self) -> float:
        """Mean foreground IoU over classes that occur (NaN if none does)."""
        v = self.per_class()
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
