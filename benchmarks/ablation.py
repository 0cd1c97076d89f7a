"""Ablation: student IoU per dataset for LearnConfig overrides (no teacher, no baselines).

A quicker loop than ``accuracy.py`` for comparing one setting at a time, on the same support
draws (``common.draw_supports``) and the same IoU (accumulated over each test set):

    python benchmarks/ablation.py '{"split_single": false}' --k 1
    python benchmarks/ablation.py '{"time_budget_s": null, "max_steps": 160}' nuclei_dsb2018

The first argument is a JSON object of ``LearnConfig`` fields (``"head"``: ``HeadConfig``
fields); dataset names restrict the run.  ``--k`` shots (default 5), ``--seed`` (default 0),
``--device`` (default: CUDA, MPS, CPU).
The leave-one-out estimate is off (``loo_steps=0``) unless the overrides set it.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

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
from engine.nn.model import HeadConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("overrides", nargs="?", default="{}", help="JSON LearnConfig fields")
    ap.add_argument("datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None, help="auto (default), cpu, cuda, mps")
    args = ap.parse_args()
    over = json.loads(args.overrides)
    head = over.pop("head", None)
    cfg = LearnConfig(**{"loo_steps": 0, **over, "seed": args.seed, "device": args.device})
    if head:
        cfg = replace(cfg, head=HeadConfig(**head))
    scores = []
    for name in args.datasets:
        images, masks = load_dataset(DEFAULT_DATA, name)
        idx = draw_supports(masks, args.k, args.seed)
        sup_images, sup_masks = load_pairs(images, masks, idx)
        t = time.perf_counter()
        model = run_learn(sup_images, sup_masks, cfg)
        learn_s = time.perf_counter() - t
        predictor, acc = Predictor(model, args.device), IoUAccumulator(1)
        for i in (i for i in range(len(images)) if i not in idx):
            acc.add(predictor.predict(read_image(images[i])).labels, binary_mask(masks[i]))
        scores.append(acc.per_class()[0] * 100)
        print(f"| {name} | {scores[-1]:.1f} | {model.metadata['steps']} | {learn_s:.0f} |",
              flush=True)
    print(f"| mean | {np.mean(scores):.1f} | | |  K={args.k} seed={args.seed} {args.overrides}")


if __name__ == "__main__":
    main()
