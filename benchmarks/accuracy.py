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
    python benchmarks/accuracy.py --no-teacher \\
        --backbones efficientnet_lite0 efficientnet_lite2   # one student per backbone

With several ``--backbones`` every draw learns one student per backbone (same supports, same
test images, the baselines once) and the table gets a column per student: its IoU, margin
over the best baseline, learn time and predict time per image, all measured in the same run
(times under the same load, one after the other).  The teacher is that of the first backbone.
``--max-test N`` scores N test images per draw, spread evenly over the set's (sorted) others.

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
    write_result,
)
from fewshot import TeacherPredictor

from engine.infer.predict import Predictor
from engine.io.images import read_image
from engine.learning.metrics import IoUAccumulator
from engine.learning.train import LearnConfig, effective_config
from engine.nn.device import choose_device, describe
from engine.nn.model import HeadConfig

BASELINES = ("probe", "forest")


def student_names(backbones: list[str]) -> list[str]:
    """Column name of each backbone's student ("student" alone when there is one)."""
    if len(backbones) == 1:
        return ["student"]
    return [f"student {b.removeprefix('efficientnet_')}" for b in backbones]


def test_indices(n: int, support: list[int], max_test: int | None) -> list[int]:
    """The images scored: all but the supports, or ``max_test`` of them spread evenly."""
    rest = [i for i in range(n) if i not in support]
    if max_test is None or max_test >= len(rest):
        return rest
    return [rest[j * len(rest) // max_test] for j in range(max_test)]


def evaluate(root: Path, name: str, k: int, seed: int, cfg: LearnConfig, fx,
             teacher: bool = True, backbones: list[str] | None = None,
             max_test: int | None = None) -> dict:
    """IoU of every method for one support draw; also learn and predict time per student,
    steps and LOO estimate (of the first student)."""
    images, masks = load_dataset(root, name)
    idx = draw_supports(masks, k, seed)
    sup_images, sup_masks = load_pairs(images, masks, idx)
    backbones = backbones or [cfg.head.backbone]
    out: dict = {"seed": seed, "students": student_names(backbones)}
    models = []
    for b, m in zip(backbones, out["students"]):
        t = time.perf_counter()
        models.append(run_learn(sup_images, sup_masks,
                                replace(cfg, seed=seed, head=replace(cfg.head, backbone=b))))
        out[f"learn_s {m}"] = time.perf_counter() - t
    # the baselines after learning, as before several backbones (same global RNG state)
    predictors = {
        "probe": LinearProbe(fx, sup_images, sup_masks).predict,
        "forest": FilterForest(sup_images, sup_masks, cfg.input_size, seed=seed).predict,
    }
    for model, m in zip(models, out["students"]):
        student = Predictor(model, cfg.device)
        predictors[m] = lambda im, p=student: p.predict(im).labels
    if teacher:
        tp = TeacherPredictor(models[0], sup_images, sup_masks, device=cfg.device)
        predictors["teacher"] = lambda im: tp.predict(im).labels
    acc = {m: IoUAccumulator(1) for m in predictors}
    spent = dict.fromkeys(predictors, 0.0)
    tests = test_indices(len(images), idx, max_test)
    for i in tests:
        image, target = read_image(images[i]), binary_mask(masks[i])
        for m, predict in predictors.items():
            t = time.perf_counter()
            labels = predict(image)
            spent[m] += time.perf_counter() - t
            acc[m].add(labels, target)
    for m in (*BASELINES, "teacher", *out["students"]):
        out[m] = acc[m].mean() * 100 if m in acc else float("nan")
        out[f"predict_s {m}"] = spent.get(m, float("nan")) / len(tests)
    out.update(steps=models[0].metadata["steps"], tests=len(tests))
    loo = models[0].metadata.get("loo_miou")
    out["loo"] = float("nan") if loo is None else loo * 100
    return out


def _iou(v: float) -> str:
    return f"{v:.1f}" if not np.isnan(v) else "–"


def draw_header(students: list[str]) -> list[str]:
    """Columns of :func:`draw_row`."""
    per = [h for m in students for h in (f"{m} − best", f"{m} won", f"{m} learn s",
                                          f"{m} predict s/img")]
    return ["dataset", "K", "seed", *BASELINES, "teacher", *students, *per, "LOO", "steps"]


def draw_row(name: str, k: int, r: dict) -> list[str]:
    """One draw: every method's IoU, each student's margin over the best baseline and times."""
    best = max(r[m] for m in BASELINES)
    cells = [_iou(r[m]) for m in (*BASELINES, "teacher", *r["students"])]
    per = []
    for m in r["students"]:
        margin = r[m] - best
        per += [f"{margin:+.1f}", "yes" if margin >= 0 else "**no**",
                f"{r[f'learn_s {m}']:.0f}", f"{r[f'predict_s {m}']:.2f}"]
    return [name, str(k), str(r["seed"]), *cells, *per, _iou(r["loo"]), str(r["steps"])]


def summary_header(students: list[str]) -> list[str]:
    """Columns of :func:`summary_row`."""
    per = [h for m in students for h in (f"{m} ≥ best baseline", f"{m} learn s",
                                          f"{m} predict s/img")]
    return ["dataset", "K", "draws", *[f"{m} mean ± sd (worst)"
                                       for m in (*BASELINES, "teacher", *students)], *per]


def summary_row(name: str, k: int, runs: list[dict]) -> list[str]:
    """Mean ± sd and (worst) of every method over the draws; draws each student won."""
    students = runs[0]["students"]
    cells = [f"{mean_sd([r[m] for r in runs])} ({worst([r[m] for r in runs])})"
             for m in (*BASELINES, "teacher", *students)]
    per = []
    for m in students:
        wins = sum(r[m] >= max(r[b] for b in BASELINES) for r in runs)
        per += [f"{wins}/{len(runs)}", mean_sd([r[f"learn_s {m}"] for r in runs]),
                f"{np.mean([r[f'predict_s {m}'] for r in runs]):.2f}"]
    return [name, str(k), str(len(runs)), *cells, *per]


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
    ap.add_argument("--backbones", nargs="*", default=None,
                    help="one student per backbone on the same draws (default: the head's)")
    ap.add_argument("--max-test", type=int, default=None,
                    help="score at most N test images per draw (spread evenly)")
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
                runs.append(evaluate(args.data, name, k, s, cfg, fx, not args.no_teacher,
                                     args.backbones, args.max_test))
                draws.append(draw_row(name, k, runs[-1]))
                print("| " + " | ".join(draws[-1]) + " |", flush=True)
            summary.append(summary_row(name, k, runs))
            print("| " + " | ".join(summary[-1]) + " |", flush=True)
    device = choose_device(cfg.device)
    eff = effective_config(cfg, device)
    students = student_names(args.backbones or [cfg.head.backbone])
    tests = "each test set" if args.max_test is None else f"≤ {args.max_test} test images"
    text = (markdown_table(summary_header(students), summary)
            + "\n\n" + markdown_table(draw_header(students), draws)
            + f"\n\nForeground IoU (%) over {tests} per draw; {eff.max_steps} training steps, "
              f"head {json.dumps(json.loads(args.head))}, "
              f"learn {json.dumps(json.loads(args.learn))}, "
              f"on {describe(device)}, {torch.get_num_threads()} CPU threads "
              f"({time.strftime('%Y-%m-%d')}).\n")
    write_result(args.out, text)


if __name__ == "__main__":
    main()
