"""Threshold sweep: student IoU per dataset when the foreground threshold moves off 0.5.

The student over-segments look-alike regions (predicted area 2-3x the truth on polyps); this
measures whether a different probability threshold would help, on the same support draws and
IoU as ``ablation.py`` (one model per dataset, every threshold on the same probabilities):

    python benchmarks/threshold.py --seed 0 [--k 5] [datasets...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import (
    DATASETS,
    DEFAULT_DATA,
    binary_mask,
    draw_supports,
    load_dataset,
    load_pairs,
    run_learn,
)

from engine.infer.predict import Predictor
from engine.io.images import read_image
from engine.learning.metrics import IoUAccumulator
from engine.learning.train import LearnConfig

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    cfg = LearnConfig(loo_steps=0, seed=args.seed, device=args.device)
    print("| dataset | " + " | ".join(f"t={t}" for t in THRESHOLDS) + " | area ratio at 0.5 |")
    print("|---" * (len(THRESHOLDS) + 2) + "|")
    for name in args.datasets:
        images, masks = load_dataset(DEFAULT_DATA, name)
        idx = draw_supports(masks, args.k, args.seed)
        sup_images, sup_masks = load_pairs(images, masks, idx)
        model = run_learn(sup_images, sup_masks, cfg)
        predictor = Predictor(model, args.device)
        accs = {t: IoUAccumulator(1) for t in THRESHOLDS}
        pred_area = true_area = 0
        for i in (i for i in range(len(images)) if i not in idx):
            pred = predictor.predict(read_image(images[i]))
            target = binary_mask(masks[i])
            fg_prob = np.where(pred.labels > 0, pred.confidence, 1 - pred.confidence)
            for t in THRESHOLDS:
                accs[t].add((fg_prob > t).astype(np.uint8), target)
            pred_area += int((pred.labels > 0).sum())
            true_area += int((target > 0).sum())
        cells = [f"{accs[t].per_class()[0] * 100:.1f}" for t in THRESHOLDS]
        print(f"| {name} | " + " | ".join(cells) + f" | {pred_area / max(true_area, 1):.2f} |",
              flush=True)
    print(f"\nK={args.k} seed={args.seed}, {time.strftime('%Y-%m-%d')}")


if __name__ == "__main__":
    main()
