"""Accuracy benchmark: foreground IoU over each dataset's test set (method.md §5).

For each dataset under ``--data`` (default ``../shared/datasets``), K supports drawn at random
(seeded) among images with foreground, the rest as test, IoU accumulated over the whole test
set, for the simple baselines on **the same draws** (linear probe on the frozen Lite0 taps,
random forest on the filter bank; ``baselines.py``), the fine-tuned teacher (with the K
supports) and the distilled student (no supports).  Every draw is a row, with whether the
student beat the best simple method on it; the summary gives mean ± sd and the worst draw.

    python benchmarks/accuracy.py --shots 5 --seeds 0 1 2 3 4
    python benchmarks/accuracy.py --shots 5 --seeds 0 --datasets nuclei_dsb2018 \\
        --head '{"pixel_paths": "none"}'          # an ablation of the model's settings

Learning runs a fixed number of steps, so results do not depend on the machine's load.
Prints Markdown tables and writes them to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from baselines import FeatureExtractor, FilterForest, LinearProbe
from common import (
    DATASETS,
    DEFAULT_DATA,
    ROOT,
    binary_mask,
    draw_supports,
    load_dataset,
    load_pairs,
    markdown_table,
    mean_sd,
    run_learn,
    worst,
)
from fewshot import TeacherPredictor

from engine.infer.predict import Predictor
from engine.io.images import read_image
from engine.learning.metrics import IoUAccumulator
from engine.learning.train import LearnConfig, effective_config
from engine.nn.device import choose_device, describe
from engine.nn.model import HeadConfig

BASELINES = ("probe", "forest")
METHODS = (*BASELINES, "teacher", "student")


def evaluate(root: Path, name: str, k: int, seed: int, cfg: LearnConfig, fx,
             teacher: bool = True) -> dict:
    """IoU of every method for one support draw; also learn time, steps and LOO estimate."""
    images, masks = load_dataset(root, name)
    idx = draw_supports(masks, k, seed)
    sup_images, sup_masks = load_pairs(images, masks, idx)
    t = time.perf_counter()
    model = run_learn(sup_images, sup_masks, replace(cfg, seed=seed))
    learn_s = time.perf_counter() - t
    student = Predictor(model, cfg.device)
    predictors = {
        "probe": LinearProbe(fx, sup_images, sup_masks).predict,
        "forest": FilterForest(sup_images, sup_masks, cfg.input_size, seed=seed).predict,
        "student": lambda im: student.predict(im).labels,
    }
    if teacher:
        tp = TeacherPredictor(model, sup_images, sup_masks, device=cfg.device)
        predictors["teacher"] = lambda im: tp.predict(im).labels
    acc = {m: IoUAccumulator(1) for m in predictors}
    for i in (i for i in range(len(images)) if i not in idx):
        image, target = read_image(images[i]), binary_mask(masks[i])
        for m, predict in predictors.items():
            acc[m].add(predict(image), target)
    out = {m: acc[m].mean() * 100 if m in acc else float("nan") for m in METHODS}
    out.update(learn_s=learn_s, steps=model.metadata["steps"], seed=seed)
    loo = model.metadata.get("loo_miou")
    out["loo"] = float("nan") if loo is None else loo * 100
    return out


def draw_row(name: str, k: int, r: dict) -> list[str]:
    """One draw: every method's IoU and the student's margin over the best baseline."""
    best = max(r[m] for m in BASELINES)
    cells = [f"{r[m]:.1f}" if not np.isnan(r[m]) else "–" for m in METHODS]
    margin = r["student"] - best
    return [name, str(k), str(r["seed"]), *cells, f"{margin:+.1f}",
            "yes" if margin >= 0 else "**no**", f"{r['loo']:.1f}" if not np.isnan(r["loo"])
            else "–", f"{r['learn_s']:.0f}", str(r["steps"])]


def summary_row(name: str, k: int, runs: list[dict]) -> list[str]:
    """Mean ± sd and (worst) of every method over the draws; draws the student won."""
    cells = [f"{mean_sd([r[m] for r in runs])} ({worst([r[m] for r in runs])})" for m in METHODS]
    wins = sum(r["student"] >= max(r[b] for b in BASELINES) for r in runs)
    return [name, str(k), str(len(runs)), *cells, f"{wins}/{len(runs)}",
            mean_sd([r["learn_s"] for r in runs])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--shots", nargs="*", type=int, default=[5])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--device", default=None, help="auto (default), cpu, cuda, mps")
    ap.add_argument("--loo", action="store_true", help="also compute the LOO estimate")
    ap.add_argument("--no-teacher", action="store_true", help="skip the teacher (faster)")
    ap.add_argument("--learn", default="{}", help="JSON overrides of LearnConfig")
    ap.add_argument("--head", default="{}", help="JSON overrides of HeadConfig")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "accuracy.md")
    args = ap.parse_args()
    head = replace(HeadConfig(), **json.loads(args.head))
    cfg = LearnConfig(loo_steps=LearnConfig().loo_steps if args.loo else 0, device=args.device,
                      head=head)
    cfg = replace(cfg, **json.loads(args.learn))
    fx = FeatureExtractor(cfg.input_size)
    draws, summary = [], []
    for name in args.datasets:
        for k in args.shots:
            runs = []
            for s in args.seeds:
                runs.append(evaluate(args.data, name, k, s, cfg, fx, not args.no_teacher))
                draws.append(draw_row(name, k, runs[-1]))
                print("| " + " | ".join(draws[-1]) + " |", flush=True)
            summary.append(summary_row(name, k, runs))
            print("| " + " | ".join(summary[-1]) + " |", flush=True)
    device = choose_device(cfg.device)
    eff = effective_config(cfg, device)
    text = (markdown_table(["dataset", "K", "draws", *[f"{m} mean ± sd (worst)" for m in METHODS],
                            "student ≥ best baseline", "learn s"], summary)
            + "\n\n" + markdown_table(["dataset", "K", "seed", *METHODS, "student − best",
                                       "won", "LOO", "learn s", "steps"], draws)
            + f"\n\nForeground IoU (%) over each test set; {eff.max_steps} training steps, "
              f"head {json.dumps(json.loads(args.head))}, "
              f"learn {json.dumps(json.loads(args.learn))}, "
              f"on {describe(device)}, {torch.get_num_threads()} CPU threads "
              f"({time.strftime('%Y-%m-%d')}).\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
