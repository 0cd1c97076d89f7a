"""Refine on the folder: the gain of self-training on confident pseudo-labels (engine.refine).

For each dataset and seed, the K-shot draw of ``accuracy.py`` (same supports), a model learned
from it, then the same model refined on pseudo-labels of the dataset's other images (the
folder a user would auto-label; ``RefineConfig.max_images`` of them, evenly spread).  Both are
scored on the same test images.  **The refined model has seen the test images unlabelled**
(that is the feature: it adapts to the folder it labels), so its figure is transductive, not
a few-shot one; it is reported apart from ``accuracy.py``'s tables.

    python benchmarks/refine.py --seeds 0 1 2 3 4 --max-test 40
    python benchmarks/refine.py --quick        # a smoke run (CI): 1 dataset, tiny settings
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import (
    DATASETS,
    DEFAULT_DATA,
    ROOT,
    draw_supports,
    folder_iou,
    load_dataset,
    load_pairs,
    markdown_table,
    mean_sd,
    run_learn,
    test_indices,
    worst,
    write_result,
)

import engine
from engine.infer.predict import Predictor
from engine.io.images import read_image
from engine.learning.train import LearnConfig
from engine.nn.modelfile import load_model, save_model
from engine.refine import RefineConfig, refine
from engine.run import drive


def learned_model(sup_images, sup_masks, cfg: LearnConfig, cache: Path | None, key: str):
    """Learn, or load the model this exact draw and config learned before (``--cache``:
    for trying refine settings on the same learned models; learning is deterministic)."""
    if cache is None:
        return run_learn(sup_images, sup_masks, cfg)
    digest = hashlib.sha256(f"{key} {cfg!r} {engine.__version__}".encode()).hexdigest()[:16]
    path = cache / f"{key}-{digest}.dfss"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        save_model(run_learn(sup_images, sup_masks, cfg), path)
    return load_model(path)


def evaluate(root: Path, name: str, k: int, seed: int, cfg: LearnConfig, settings: RefineConfig,
             max_test: int | None, cache: Path | None = None) -> dict:
    """One draw: test IoU of the learned model and of the refined one, and refine's time."""
    images, masks = load_dataset(root, name)
    idx = draw_supports(masks, k, seed)
    sup_images, sup_masks = load_pairs(images, masks, idx)
    test = test_indices(len(images), idx, max_test, seed)
    cfg = replace(cfg, seed=seed)
    model = learned_model(sup_images, sup_masks, cfg, cache, f"{name}-k{k}-s{seed}")
    before = folder_iou(lambda im: Predictor(model, cfg.device).predict(im).labels,
                        images, masks, test)
    folder = [i for i in range(len(images)) if i not in idx]  # what a user auto-labels
    loaders = [lambda p=images[i]: read_image(p) for i in folder]
    t = time.perf_counter()
    refined = drive(refine(model, sup_images, sup_masks, loaders, cfg, settings))
    refine_s = time.perf_counter() - t
    predictor = Predictor(refined, cfg.device)
    after = folder_iou(lambda im: predictor.predict(im).labels, images, masks, test)
    return {"seed": seed, "before": before, "after": after, "refine_s": refine_s,
            "pseudo": refined.metadata["refine"]["images"],
            "painted": refined.metadata["refine"]["painted_mean"] * 100}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--max-test", type=int, default=None, help="test on a seeded subset")
    ap.add_argument("--device", default=None)
    ap.add_argument("--refine", default="{}", help="JSON overrides of RefineConfig")
    ap.add_argument("--cache", type=Path, default=None,
                    help="keep learned models here and reuse them (same draw and settings)")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny settings")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "refine.md")
    args = ap.parse_args()
    cfg = LearnConfig(loo_steps=0, device=args.device)
    settings = replace(RefineConfig(), **json.loads(args.refine))
    if args.quick:
        args.datasets, args.seeds, args.max_test, args.shots = args.datasets[:1], [0], 4, 2
        cfg = replace(cfg, max_steps=4, min_steps=4, total_views=8, input_size=128, crop=96)
        settings = replace(settings, steps=3, max_images=3)
    rows, summary = [], []
    for name in args.datasets:
        runs = []
        for seed in args.seeds:
            r = evaluate(args.data, name, args.shots, seed, cfg, settings, args.max_test,
                         args.cache)
            runs.append(r)
            rows.append([name, str(seed), f"{r['before']:.1f}", f"{r['after']:.1f}",
                         f"{r['after'] - r['before']:+.1f}", str(r["pseudo"]),
                         f"{r['painted']:.0f}", f"{r['refine_s']:.0f}"])
            print("| " + " | ".join(rows[-1]) + " |", flush=True)
        gains = [r["after"] - r["before"] for r in runs]
        before, after = [r["before"] for r in runs], [r["after"] for r in runs]
        summary.append([name, str(len(runs)), f"{mean_sd(before)} ({worst(before)})",
                        f"{mean_sd(after)} ({worst(after)})", mean_sd(gains),
                        f"{sum(g > 0 for g in gains)}/{len(gains)}",
                        f"{float(np.median([r['refine_s'] for r in runs])):.0f}"])
    text = (markdown_table(["dataset", "draws", "learned mean ± sd (worst)",
                            "refined mean ± sd (worst)", "gain", "draws improved",
                            "refine s (median)"], summary)
            + "\n\n" + markdown_table(["dataset", "seed", "learned", "refined", "gain",
                                       "pseudo-labelled images", "confident px %", "refine s"],
                                      rows)
            + f"\n\nForeground IoU (%) on the test images (max {args.max_test}) of K = "
              f"{args.shots} draws (the draws of accuracy.py); refined = "
              f"`engine.refine.refine` {json.dumps(settings.__dict__)} on the dataset's other "
              "images, **test images included, unlabelled** (transductive).  "
              f"({time.strftime('%Y-%m-%d')})\n")
    write_result(args.out, text)


if __name__ == "__main__":
    main()
