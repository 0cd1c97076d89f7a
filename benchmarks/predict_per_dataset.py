"""Student prediction time per image on each dataset (images at their own sizes).

The issue's peer, an ilastik-style pixel classifier, takes 0.8-4.7 s per image on 2 cores
over these datasets; the target is a student >= 20x faster.  Prediction cost follows the
working size (long side = the model's input size, smaller for large objects), not the file's
size, so this prints, per dataset: the median image size, the working size, and the median
wall time of ``Predictor.predict`` on one image at a time (resize, backbone, student, head,
resize back, threshold; no file I/O) and per image in batches of 4.

    python benchmarks/predict_per_dataset.py [--device cpu] [--images 24]

Each dataset's model is learned from its seed-0 5-shot draw with a 3 s budget (the
architecture, not the accuracy, sets the cost; the object-sized scale rule applies).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from common import (
    DATASETS,
    DEFAULT_DATA,
    draw_supports,
    load_dataset,
    load_pairs,
    markdown_table,
    run_learn,
)

from engine.infer.predict import Predictor
from engine.io.images import read_image
from engine.io.resize import working_size
from engine.learning.train import LearnConfig
from engine.nn.device import choose_device, describe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    device = choose_device(args.device)
    rows = []
    for name in DATASETS:
        paths, masks = load_dataset(DEFAULT_DATA, name)
        idx = draw_supports(masks, 5, 0)
        model = run_learn(*load_pairs(paths, masks, idx),
                          LearnConfig(max_steps=10, loo_steps=0, device=str(device)))
        pr = Predictor(model, str(device))
        images = [read_image(p) for i, p in enumerate(paths) if i not in idx][: args.images]
        pr.predict_batch(images[:4])  # warm-up
        singles, batched = [], []
        for _ in range(args.repeat):
            for im in images:
                t = time.perf_counter()
                pr.predict(im)
                singles.append(time.perf_counter() - t)
            t = time.perf_counter()
            for s in range(0, len(images), 4):
                pr.predict_batch(images[s:s + 4])
            batched.append((time.perf_counter() - t) / len(images))
        h, w = (int(np.median([im.shape[k] for im in images])) for k in (0, 1))
        wh, ww = working_size(h, w, pr.input_size)
        one, four = statistics.median(singles), statistics.median(batched)
        rows.append([name, f"{w} x {h}", f"{ww} x {wh}", f"{one * 1000:.0f}",
                     f"{four * 1000:.0f}", f"{0.8 / one:.0f}x / {4.7 / one:.0f}x"])
        print("| " + " | ".join(rows[-1]) + " |", flush=True)
    print()
    print(markdown_table(["dataset", "median image (w x h)", "working size", "ms / image",
                          "ms / image, batches of 4", "vs 0.8 s / 4.7 s per image"], rows))
    print(f"\n{describe(device)}, {args.images} test images per dataset, medians of "
          f"{args.repeat} passes, {time.strftime('%Y-%m-%d')}.")


if __name__ == "__main__":
    main()
