"""Accuracy benchmark: foreground IoU over each dataset's test set (method.md §5).

For each dataset under ``--data`` (default ``../shared/datasets``), K supports drawn at random
(seeded) among images with foreground, the rest as test, IoU accumulated over the whole test
set, for: masked-average prototype and linear probe (same frozen Lite0 features), the
fine-tuned teacher (with the K supports) and the distilled student (no supports).

    python benchmarks/accuracy.py                       # full grid: K = 1, 5, 10; seeds 0, 1, 2
    python benchmarks/accuracy.py --shots 5 --seeds 0   # one draw per dataset

Prints a Markdown table and writes it to ``benchmarks/results/accuracy.md``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from baselines import FeatureExtractor, LinearProbe, Prototype
from common import (DATASETS, DEFAULT_DATA, ROOT, binary_mask, draw_supports, load_dataset,
                    load_pairs, markdown_table, run_learn)

from engine.device import choose_device, describe
from engine.fewshot import TeacherPredictor
from engine.io import read_image
from engine.metrics import IoUAccumulator
from engine.predict import Predictor
from engine.train import LearnConfig, effective_config

METHODS = ("prototype", "linear probe", "teacher", "student")


def evaluate(root: Path, name: str, k: int, seed: int, cfg: LearnConfig, fx) -> dict:
    """IoU of every method for one support draw; also learn time and LOO estimate."""
    images, masks = load_dataset(root, name)
    idx = draw_supports(masks, k, seed)
    sup_images, sup_masks = load_pairs(images, masks, idx)
    t = time.perf_counter()
    model = run_learn(sup_images, sup_masks, replace(cfg, seed=seed))
    learn_s = time.perf_counter() - t
    predictors = {
        "prototype": Prototype(fx, sup_images, sup_masks).predict,
        "linear probe": LinearProbe(fx, sup_images, sup_masks).predict,
        "teacher": lambda im, p=TeacherPredictor(model, sup_images, sup_masks, device=cfg.device):
            p.predict(im).labels,
        "student": lambda im, p=Predictor(model, cfg.device): p.predict(im).labels,
    }
    acc = {m: IoUAccumulator(1) for m in METHODS}
    for i in (i for i in range(len(images)) if i not in idx):
        image, target = read_image(images[i]), binary_mask(masks[i])
        for m in METHODS:
            acc[m].add(predictors[m](image), target)
    out = {m: acc[m].mean() * 100 for m in METHODS}
    out["learn_s"] = learn_s
    out["steps"] = model.metadata["steps"]
    loo = model.metadata.get("loo_miou")
    out["loo"] = float("nan") if loo is None else loo * 100
    return out


def _fmt(values: list[float]) -> str:
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--shots", nargs="*", type=int, default=[1, 5, 10])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--time-budget", type=float, default=None, help="seconds of training")
    ap.add_argument("--device", default=None, help="auto (default), cpu, cuda, mps")
    ap.add_argument("--loo", action="store_true", help="also compute the LOO estimate")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "accuracy.md")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = LearnConfig(loo_steps=LearnConfig().loo_steps if args.loo else 0, device=args.device)
    if args.time_budget is not None:
        cfg = replace(cfg, time_budget_s=args.time_budget,
                      gpu=replace(cfg.gpu, time_budget_s=args.time_budget))
    fx = FeatureExtractor(cfg.input_size)
    rows = []
    for name in args.datasets:
        for k in args.shots:
            runs = [evaluate(args.data, name, k, s, cfg, fx) for s in args.seeds]
            row = [name, str(k)] + [_fmt([r[m] for r in runs]) for m in METHODS]
            row += [_fmt([r["loo"] for r in runs]), _fmt([r["learn_s"] for r in runs]),
                    _fmt([r["steps"] for r in runs])]
            rows.append(row)
            print("| " + " | ".join(row) + " |", flush=True)
    header = ["dataset", "K", *METHODS, "LOO estimate", "learn s", "steps"]
    table = markdown_table(header, rows)
    device = choose_device(cfg.device)
    note = (f"\n\nForeground IoU (%) over each test set, seeds {args.seeds} (mean ± sd), "
            f"learn time budget {effective_config(cfg, device).time_budget_s} s on "
            f"{describe(device)}, "
            f"{torch.get_num_threads()} CPU threads "
            f"({time.strftime('%Y-%m-%d')}).\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + note)
    print(table + note)


if __name__ == "__main__":
    main()
