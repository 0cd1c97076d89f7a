"""Flip averaging: student IoU and prediction time per dataset, with and without.

One model per dataset and seed (the same support draws and IoU as ``ablation.py``); every
test image is predicted by ``Predictor(model)`` and ``Predictor(model, flip_average=True)``
(the image and its three mirror images, averaged), with the time per image of each:

    python benchmarks/flip_average.py --seeds 0 1 2 [--k 5] [--device cuda] [datasets...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
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
from engine.learning.metrics import IoUAccumulator
from engine.learning.train import LearnConfig
from engine.nn.device import describe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    rows, gains = [], {}
    device = None
    for name in args.datasets:
        images, masks = load_dataset(DEFAULT_DATA, name)
        for seed in args.seeds:
            idx = draw_supports(masks, args.k, seed)
            sup_images, sup_masks = load_pairs(images, masks, idx)
            model = run_learn(sup_images, sup_masks,
                              LearnConfig(loo_steps=0, seed=seed, device=args.device))
            plain = Predictor(model, args.device)
            averaged = Predictor(model, args.device, flip_average=True)
            device = plain.device
            accs = {False: IoUAccumulator(1), True: IoUAccumulator(1)}
            times: dict[bool, list[float]] = {False: [], True: []}
            test = [i for i in range(len(images)) if i not in idx]
            for pr in (plain, averaged):  # warm-up (CUDA graphs are captured at 2nd sight)
                for _ in range(2):
                    pr.predict(read_image(images[test[0]]))
            for i in test:
                img, target = read_image(images[i]), binary_mask(masks[i])
                for flip, pr in ((False, plain), (True, averaged)):
                    t = time.perf_counter()
                    labels = pr.predict(img).labels
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    times[flip].append(time.perf_counter() - t)
                    accs[flip].add(labels, target)
            iou = {f: accs[f].per_class()[0] * 100 for f in accs}
            gains.setdefault(name, []).append(iou[True] - iou[False])
            ms = {f: statistics.median(times[f]) * 1000 for f in times}
            rows.append([name, str(seed), f"{iou[False]:.1f}", f"{iou[True]:.1f}",
                         f"{iou[True] - iou[False]:+.1f}", f"{ms[False]:.1f}", f"{ms[True]:.1f}",
                         f"{ms[True] / ms[False]:.1f}x"])
            print("| " + " | ".join(rows[-1]) + " |", flush=True)
    print()
    print(markdown_table(["dataset", "seed", "IoU", "IoU flip-averaged", "gain",
                          "ms / image", "ms / image flip-averaged", "time"], rows))
    print()
    print(markdown_table(["dataset", "mean gain", "seeds with a gain"],
                         [[n, f"{np.mean(g):+.1f}", f"{sum(x > 0 for x in g)} of {len(g)}"]
                          for n, g in gains.items()]))
    print(f"\nK={args.k}, seeds {args.seeds}, {describe(device)}, one image per call, "
          f"{time.strftime('%Y-%m-%d')}")


if __name__ == "__main__":
    main()
