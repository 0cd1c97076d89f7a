"""Plain words for the leave-one-out IoU estimate, shared by the CLI and the app."""

from __future__ import annotations

CAVEAT = ("A rough estimate: each example is predicted by a quickly trained model that never "
          "saw it, so it usually reads low (up to 25 points under the true test IoU with 5 "
          "examples on our benchmarks): check a few predictions too.")


def verdict(miou: float | None) -> str:
    """One sentence for a leave-one-out mean IoU in [0, 1] (None: no estimate)."""
    if miou is None:
        return "No estimate yet: paint at least two examples to get one."
    if miou >= 0.8:
        return "Excellent: the model reproduces your examples closely."
    if miou >= 0.6:
        return "Good: predictions should need only small corrections."
    if miou >= 0.4:
        return "Fair: expect corrections. Paint two or three more varied examples."
    return "Weak: paint more examples (or check that the class is painted completely)."
