"""How well the review queue puts the worst predictions first.

The app's *Review next* opens predicted images in order of a per-image confidence.  For each
dataset (one 5-shot model, seed ``--seed``), this ranks the test images by two scores and
compares with each image's own foreground IoU: the rank correlation (Spearman; higher is
better) and how many of the 10 worst images (lowest IoU) are among the 10 lowest scores.

- whole-image mean confidence (``Prediction.mean_confidence``, the order before 2026-11-26)
- ``Prediction.confidence_score``: the mean over predicted-class and unsure pixels (now)

    python benchmarks/review_order.py [--seed 0] [datasets...]
"""

from __future__ import annotations

import argparse

import numpy as np
from common import (
    DATASETS,
    DEFAULT_DATA,
    binary_mask,
    draw_supports,
    load_dataset,
    load_pairs,
    markdown_table,
    run_learn,
)

from engine.infer.predict import Predictor
from engine.io.images import read_image
from engine.learning.train import LearnConfig

SCORES = {"whole-image mean": "mean_confidence", "confidence_score (now)": "confidence_score"}


def spearman(a, b) -> float:
    ra, rb = (np.argsort(np.argsort(np.asarray(x))) for x in (a, b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    rows = []
    for name in args.datasets:
        paths, masks = load_dataset(DEFAULT_DATA, name)
        idx = draw_supports(masks, 5, args.seed)
        model = run_learn(*load_pairs(paths, masks, idx),
                          LearnConfig(seed=args.seed, loo_steps=0, device=args.device))
        pr = Predictor(model, args.device)
        ious, scores = [], {k: [] for k in SCORES}
        for i in (i for i in range(len(paths)) if i not in idx):
            pred, gt = pr.predict(read_image(paths[i])), binary_mask(masks[i]) > 0
            fg = pred.labels > 0
            union = (fg | gt).sum()
            ious.append((fg & gt).sum() / union if union else 1.0)
            for k, attr in SCORES.items():
                scores[k].append(getattr(pred, attr))
        worst = set(np.argsort(ious)[:10])
        row = [name, str(len(ious))]
        for k in SCORES:
            low = set(np.argsort(scores[k])[:10])
            row += [f"{spearman(scores[k], ious):+.2f}", str(len(worst & low))]
        rows.append(row)
        print("| " + " | ".join(rows[-1]) + " |", flush=True)
    header = ["dataset", "images"]
    for k in SCORES:
        header += [f"{k}: Spearman", f"{k}: worst 10 in lowest 10"]
    print()
    print(markdown_table(header, rows))
    print(f"\nseed {args.seed}, 5 shots, default settings.")


if __name__ == "__main__":
    main()
