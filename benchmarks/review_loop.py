"""The review loop: does correcting the image the review queue opens first, then learning
again, improve the model faster than painting one more image picked at random?

A simulated user starts from 5 painted examples (the draw of ``accuracy.py``), learns, and
then, for ``--rounds`` rounds, adds one more example with its true mask and learns again:

- *review*: the image *Review next* opens first, the lowest
  :attr:`engine.infer.predict.Prediction.confidence_score` among the images not yet painted, as
  predicted by the current model (what the app offers);
- *random*: an image picked at random (seeded) among the images not yet painted.

All models are scored on the same test images: every image that is in neither strategy's
examples, foreground IoU accumulated over them (as ``accuracy.py``).

    python benchmarks/review_loop.py [--seed 0] [--rounds 2] [datasets...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import (
    DATASETS,
    DEFAULT_DATA,
    ROOT,
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


def per_image(model, device, paths, masks, indices) -> dict[int, tuple[int, int, float]]:
    """Index -> (intersection, union, confidence_score) of the model's prediction."""
    pr = Predictor(model, device)
    out = {}
    for i in indices:
        pred = pr.predict(read_image(paths[i]))
        fg, gt = pred.labels > 0, binary_mask(masks[i]) > 0
        out[i] = (int((fg & gt).sum()), int((fg | gt).sum()), pred.confidence_score)
    return out


def iou(stats: dict[int, tuple[int, int, float]], indices) -> float:
    inter = sum(stats[i][0] for i in indices)
    union = sum(stats[i][1] for i in indices)
    return 100.0 * inter / union if union else 100.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", default=None, help="also write the table to this Markdown file")
    args = ap.parse_args()
    cfg = LearnConfig(seed=args.seed, loo_steps=0, device=args.device)
    rows = []
    for name in args.datasets:
        t0 = time.perf_counter()
        paths, masks = load_dataset(DEFAULT_DATA, name)
        start = draw_supports(masks, 5, args.seed)
        pool = [i for i in range(len(paths)) if i not in start]

        def learn(extra: list[int], paths=paths, masks=masks, start=start):
            return run_learn(*load_pairs(paths, masks, start + extra), cfg)

        stats = {"start": per_image(learn([]), args.device, paths, masks, pool)}
        added: dict[str, list[int]] = {"review": [], "random": []}
        rng = np.random.default_rng(1000 + args.seed)
        current = stats["start"]
        picked_iou = []  # IoU of each reviewed image under the model that picked it
        for r in range(1, args.rounds + 1):
            todo = [i for i in pool if i not in added["review"]]
            pick = min(todo, key=lambda i: current[i][2])
            picked_iou.append(100.0 * current[pick][0] / max(current[pick][1], 1))
            added["review"].append(pick)
            current = per_image(learn(added["review"]), args.device, paths, masks, todo)
            stats[f"review +{r}"] = current
            todo = [i for i in pool if i not in added["random"]]
            added["random"].append(int(rng.choice(todo)))
            stats[f"random +{r}"] = per_image(learn(added["random"]), args.device, paths,
                                              masks, todo)
        test = [i for i in pool if i not in added["review"] + added["random"]]
        keys = ["start"] + [f"{s} +{r}" for r in range(1, args.rounds + 1)
                            for s in ("review", "random")]
        rows.append([name] + [f"{iou(stats[k], test):.1f}" for k in keys]
                    + [", ".join(f"{v:.0f}" for v in picked_iou), str(len(test)),
                       f"{time.perf_counter() - t0:.0f}"])
        print("| " + " | ".join(rows[-1]) + " |", flush=True)
    header = (["dataset", "5 examples"]
              + [f"{s} +{r}" for r in range(1, args.rounds + 1) for s in ("review", "random")]
              + ["IoU of the reviewed images before", "test images", "s"])
    table = markdown_table(header, rows)
    note = (f"\n\nForeground IoU (%) over the same test images for every column; seed "
            f"{args.seed}, {args.rounds} round(s) of one added example each; "
            f"{time.strftime('%Y-%m-%d')}.\n")
    print(table + note)
    if args.out:
        (ROOT / "benchmarks" / args.out).write_text(table + note)


if __name__ == "__main__":
    main()
