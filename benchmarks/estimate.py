"""How far the IoU estimates a user is shown are from the test IoU (issue #15 item 6).

For each dataset and seed (the K-shot draws of ``accuracy.py``), a model is learned with the
default settings, leave-one-out folds included (what ``distillfss learn`` and *Learn class*
run), and predicts the set's other images (the folder a user auto-labels).  Recorded per draw:

- **test**: foreground IoU over those images (the truth a user never sees);
- **held-out** (``loo``): the leave-one-out estimate, each example predicted by a short model
  trained on the others (pessimistic: fewer examples, fewer steps);
- **self**: the model's own expected IoU over the folder it labelled,
  :class:`engine.infer.expected.ExpectedIoU` of its probabilities (optimistic: a model
  believes its own mistakes);
- the range the app and the CLI show (:func:`engine.learning.estimate.folder_estimate`:
  self through a fitted line, ± 10 points), and the same with the line fitted on the other
  four datasets only (leave-one-dataset-out: the check on unseen data).

Per-draw records are kept in ``--cache`` (JSON), so the table can be rebuilt without
learning again.

    python benchmarks/estimate.py --seeds 0 1 2 3 4 --cache /tmp/estimate-cache
    python benchmarks/estimate.py --quick        # CI: the bundled nuclei demo, tiny settings
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

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
    mean_sd,
    run_learn,
    test_indices,
    write_result,
)

from engine.infer.expected import ExpectedIoU
from engine.infer.predict import Predictor
from engine.io.images import read_image
from engine.learning.estimate import (
    CALIBRATION,
    HALF_WIDTH,
    calibrated,
    folder_estimate,
    range_text,
)
from engine.learning.metrics import IoUAccumulator
from engine.learning.train import LearnConfig

TOLERANCE = 10.0  # points: the "within ±10 of the test IoU"


def evaluate(root: Path, name: str, k: int, seed: int, cfg: LearnConfig,
             max_test: int | None, flip_average: bool = False) -> dict:
    """One draw: test IoU, the held-out and self estimates, per-example held-out IoU."""
    images, masks = load_dataset(root, name)
    idx = draw_supports(masks, k, seed)
    sup_images, sup_masks = load_pairs(images, masks, idx)
    t = time.perf_counter()
    model = run_learn(sup_images, sup_masks, replace(cfg, seed=seed))
    learn_s = time.perf_counter() - t
    predictor = Predictor(model, cfg.device, flip_average=flip_average)
    truth, expected = IoUAccumulator(1), ExpectedIoU(1)
    for i in test_indices(len(images), idx, max_test, seed):
        pred = predictor.predict(read_image(images[i]))
        truth.add(pred.labels, binary_mask(masks[i]))
        expected.add(pred.labels, pred.confidence)
    loo = model.metadata.get("loo_miou")
    return {"dataset": name, "seed": seed, "test": truth.mean() * 100,
            "loo": None if loo is None else loo * 100,
            "self": expected.mean() * 100,
            "per_support": model.metadata.get("loo_per_support"), "learn_s": learn_s}


def _within(estimate: float | None, test: float) -> bool:
    return estimate is not None and abs(estimate - test) <= TOLERANCE


def fit_calibration(runs: list[dict]) -> tuple[float, float]:
    """Least-squares line test ~ slope * self + intercept over ``runs`` (IoU in [0, 1])."""
    x = np.array([r["self"] for r in runs]) / 100
    y = np.array([r["test"] for r in runs]) / 100
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def cross_validated(runs: list[dict]) -> dict[str, tuple[float, float]]:
    """Per dataset, the calibration fitted on the *other* datasets' draws only (how the
    shipped calibration is checked on data it never saw)."""
    names = list(dict.fromkeys(r["dataset"] for r in runs))
    return {n: fit_calibration([r for r in runs if r["dataset"] != n])
            for n in names} if len(names) > 1 else {}


def table(runs: list[dict]) -> str:
    """Summary per dataset, per-draw rows (IoU in points), and the calibration lines."""
    cv = cross_validated(runs)
    rows, summary = [], []
    none = (float("nan"), float("nan"))

    def holds(r: dict, calibration: tuple[float, float] = CALIBRATION) -> bool:
        est = folder_estimate(r["self"] / 100, 1, calibration)
        return est is not None and est.low * 100 <= r["test"] <= est.high * 100

    for name in dict.fromkeys(r["dataset"] for r in runs):
        mine = [r for r in runs if r["dataset"] == name]
        cal = cv.get(name, none)
        for r in mine:
            est = folder_estimate(r["self"] / 100, 1)
            rows.append([name, str(r["seed"]), f"{r['test']:.1f}",
                         "–" if r["loo"] is None else f"{r['loo']:.1f}", f"{r['self']:.1f}",
                         range_text(est), "yes" if holds(r) else "**no**",
                         f"{calibrated(r['self'] / 100, cal) * 100:.1f}",
                         "yes" if holds(r, cal) else "**no**"])
        summary.append([name, str(len(mine)), mean_sd([r["test"] for r in mine]),
                        f"{sum(_within(r['loo'], r['test']) for r in mine)}/{len(mine)}",
                        f"{sum(_within(r['self'], r['test']) for r in mine)}/{len(mine)}",
                        mean_sd([r["self"] - r["test"] for r in mine]),
                        f"{sum(holds(r) for r in mine)}/{len(mine)}",
                        f"{cal[0]:.2f} · self {cal[1] * 100:+.0f}",
                        f"{sum(holds(r, cal) for r in mine)}/{len(mine)}"])
    n = len(runs)
    summary.append(["all", str(n), mean_sd([r["test"] for r in runs]),
                    f"{sum(_within(r['loo'], r['test']) for r in runs)}/{n}",
                    f"{sum(_within(r['self'], r['test']) for r in runs)}/{n}",
                    mean_sd([r["self"] - r["test"] for r in runs]),
                    f"{sum(holds(r) for r in runs)}/{n}", "",
                    f"{sum(holds(r, cv.get(r['dataset'], none)) for r in runs)}/{n}"])
    slope, intercept = CALIBRATION
    fitted = fit_calibration(runs) if len(runs) > 1 else none
    return (markdown_table(["dataset", "draws", "test IoU", "held-out within ±10",
                            "self within ±10", "self − test", "shipped range holds test",
                            "line fitted on the other sets", "its range holds test"], summary)
            + "\n\n" + markdown_table(["dataset", "seed", "test", "held-out", "self",
                                       "shipped range", "holds", "estimate (other sets' line)",
                                       "holds"], rows)
            + f"\n\nShipped range (`engine.learning.estimate.CALIBRATION`): {slope:.2f} · self "
              f"{intercept * 100:+.0f} ± {HALF_WIDTH * 100:.0f} points; the line fitted on "
              f"these draws: {fitted[0]:.2f} · self {fitted[1] * 100:+.0f}.  The "
              "cross-validated columns fit the line on the other four datasets' draws only.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--max-test", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--cache", type=Path, default=None, help="per-draw JSON records")
    ap.add_argument("--flip-average", action="store_true",
                    help="label with flip averaging (as the app's setting of that name)")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny settings")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "estimate.md")
    args = ap.parse_args()
    cfg = LearnConfig(device=args.device)
    if args.quick:  # the bundled CC0 nuclei demo images (CI has no shared datasets)
        from engine.io.resources import demo_dir

        args.data, args.datasets = demo_dir().parent, [demo_dir().name]
        args.seeds, args.max_test, args.shots = [0], 4, 3
        cfg = replace(cfg, max_steps=4, min_steps=4, loo_steps=2, total_views=8,
                      input_size=128, crop=96)
    runs = []
    for seed in args.seeds:  # every set's seed 0 first: a cut run still covers every set
        for name in args.datasets:
            flip = "-flip" if args.flip_average else ""
            path = args.cache and args.cache / f"{name}-k{args.shots}-s{seed}{flip}.json"
            if path and path.is_file() and not args.quick:
                r = json.loads(path.read_text())
            else:
                r = evaluate(args.data, name, args.shots, seed, cfg, args.max_test,
                             args.flip_average)
                if path and not args.quick:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(r))
            runs.append(r)
            print(json.dumps({k: r[k] for k in ("dataset", "seed", "test", "loo", "self")}),
                  flush=True)
    runs.sort(key=lambda r: (args.datasets.index(r["dataset"]), r["seed"]))
    text = (table(runs) + f"\n\nForeground IoU (%), K = {args.shots}, default learning "
            f"settings (leave-one-out {cfg.loo_steps} steps per fold), test = the set's other "
            f"images (max {args.max_test}){', flip-averaged' if args.flip_average else ''}; "
            f"({time.strftime('%Y-%m-%d')}, "
            f"median learn {float(np.median([r['learn_s'] for r in runs])):.0f} s)\n")
    write_result(args.out, text)


if __name__ == "__main__":
    main()
