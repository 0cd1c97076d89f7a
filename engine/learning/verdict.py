"""Plain words for the leave-one-out IoU estimate, shared by the CLI and the app."""

from __future__ import annotations

CAVEAT = ("A rough estimate: each example is predicted by a quickly trained model that never "
          "saw it, so it usually reads low (up to 25 points under the true test IoU with 5 "
          "examples on our benchmarks, more when one example is unlike the others): check a "
          "few predictions too.")

WELL = 0.5  # an example whose leave-one-out IoU reaches this is "covered" by the others


def verdict(miou: float | None, per_support=None) -> str:
    """One sentence for a leave-one-out mean IoU in [0, 1] (None: no estimate); with
    ``per_support`` (see :func:`coverage`), a low mean made by a minority of uncovered
    examples reads "Mixed" instead of "Weak"/"Fair"."""
    if miou is None:
        return "No estimate yet: paint at least two examples to get one."
    scored = [v for v in (per_support or []) if v is not None]
    good = sum(v >= WELL for v in scored)
    if miou < 0.6 and len(scored) >= 3 and 2 * good > len(scored):
        return ("Mixed: good on images like most of your examples, weak on images like the "
                "others (see below).")
    if miou >= 0.8:
        return "Excellent: the model reproduces your examples closely."
    if miou >= 0.6:
        return "Good: predictions should need only small corrections."
    if miou >= 0.4:
        return "Fair: expect corrections. Paint two or three more varied examples."
    return "Weak: paint more examples (or check that the class is painted completely)."


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
