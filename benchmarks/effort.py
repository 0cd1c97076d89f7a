"""Effort benchmark: labels per stroke.  How good is the folder after N scribbles per example?

For each dataset and support draw (the same draws as ``accuracy.py``), a simulated annotator
(``scribbles.py``) paints N strokes on each of the K support images (half on the class along
its objects' medial lines, half on the background); the student learned from those scribbles
labels the rest of the folder.  Next to it, on the same draws: the student learned from the
complete masks, and the filter-bank random forest (ilastik's approach, made for scribbles)
trained on the same scribbles.  Foreground IoU over the test images, painted pixels in %.

    python benchmarks/effort.py --strokes 3 10 --seeds 0 1 2 3 4
    python benchmarks/effort.py --quick      # CI: the bundled nuclei demo, 2 tiny runs

Also times one Box (GrabCut) and one Wand selection on a 4000 x 3000 image when
``engine.edit.selection`` is present.  Prints Markdown tables and writes them to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from baselines import FilterForest
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
    median_time,
    run_learn,
    test_indices,
    worst,
    write_result,
)
from scribbles import correct, scribble

from engine.infer.predict import Predictor
from engine.io.labels import NOT_PAINTED
from engine.learning.train import LearnConfig


def evaluate(root: Path, name: str, k: int, seed: int, strokes: list[int], cfg: LearnConfig,
             max_test: int | None, forest: bool = True, corrected: bool = False,
             complete: bool = True, oneshot: bool = True, learner_offset: int = 0) -> dict:
    """One draw: the complete-mask student (nan when ``complete`` is off), then per N the
    scribble student (nan when ``oneshot`` is off), forest and corrected student.

    The learner's seed is the draw's seed plus ``learner_offset``: the same supports and
    strokes learned with another seed, to see how much of a result is the learner's luck."""
    images, masks = load_dataset(root, name)
    idx = draw_supports(masks, k, seed)
    test = test_indices(len(images), idx, max_test, seed)
    sup_images, sup_masks = load_pairs(images, masks, idx)
    cfg = replace(cfg, seed=seed + learner_offset)

    def student(ms):
        p = Predictor(run_learn(sup_images, ms, cfg), cfg.device)
        return folder_iou(lambda im: p.predict(im).labels, images, masks, test)

    row: dict = {"seed": seed, "complete": student(sup_masks) if complete else float("nan"),
                 "n_test": len(test)}
    for n in strokes:
        rng = np.random.default_rng(10_000 * seed + n)
        scr = [scribble(m, n, rng) for m in sup_masks]
        painted = sum(int((s != NOT_PAINTED).sum()) for s in scr)
        row[f"painted{n}"] = 100 * painted / sum(s.size for s in scr)
        row[f"student{n}"] = student(scr) if oneshot else float("nan")
        if forest:
            ff = FilterForest(sup_images, scr, cfg.input_size, seed=seed)
            row[f"forest{n}"] = folder_iou(ff.predict, images, masks, test)
        else:
            row[f"forest{n}"] = float("nan")
        if corrected:
            row[f"corrected{n}"] = corrected_student(sup_images, sup_masks, n, seed, cfg,
                                                     lambda p: folder_iou(
                                                         lambda im: p.predict(im).labels,
                                                         images, masks, test))
    return row


def corrected_student(sup_images, sup_masks, n: int, seed: int, cfg: LearnConfig,
                      score) -> float:
    """How Live is used: ``n // 2`` strokes, learn, then the other strokes where that model
    is wrong on the examples (:func:`scribbles.correct`), learn again; the second model's
    folder IoU."""
    rng = np.random.default_rng(20_000 * seed + n)
    first = [scribble(m, n // 2, rng) for m in sup_masks]
    p1 = Predictor(run_learn(sup_images, first, cfg), cfg.device)
    fixed = [correct(s, p1.predict(im).labels, m, n - n // 2)
             for s, im, m in zip(first, sup_images, sup_masks)]
    return score(Predictor(run_learn(sup_images, fixed, cfg), cfg.device))


def _fmt(values: list[float]) -> str:
    """Mean ± sd (worst draw) over several draws; one draw as itself."""
    clean = [v for v in values if not np.isnan(v)]
    if not clean:
        return "–"
    return mean_sd(clean) if len(clean) < 2 else f"{mean_sd(clean)} ({worst(clean)})"


def _gap(complete: list[float], other: list[float]) -> str:
    """Mean of ``complete - other`` over the draws that have both; "–" when none has."""
    pairs = [c - o for c, o in zip(complete, other) if not (np.isnan(c) or np.isnan(o))]
    return f"{statistics.mean(pairs):+.1f}" if pairs else "–"


def _won(student: list[float], forest: list[float]) -> str:
    """Draws where the student is at least the forest, out of those with both figures."""
    pairs = [(s, f) for s, f in zip(student, forest) if not (np.isnan(s) or np.isnan(f))]
    return f"{sum(s >= f for s, f in pairs)}/{len(pairs)}" if pairs else "–"


def selection_times() -> list[list[str]]:
    """Median time of one Box and one Wand selection on a 4000 x 3000 synthetic image."""
    try:
        from engine.edit import selection
    except ImportError:
        return []
    rng = np.random.default_rng(0)
    image = rng.normal(90, 20, (3000, 4000, 3)).clip(0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:3000, :4000]
    disc = (yy - 1500) ** 2 + (xx - 2000) ** 2 < 600 ** 2
    image[disc] = (220, 200, 90)
    rows = []
    box = getattr(selection, "grabcut_box", None)
    if box is not None:
        t = median_time(lambda: box(image, (1300, 800, 2700, 2200)), repeat=3)
        rows.append(["Box (GrabCut), 1400 x 1400 box", f"{t * 1000:.0f} ms"])
    wand = getattr(selection, "wand_region", None)
    if wand is not None:
        # What the app does: the wand compares colours on the median-filtered image
        # (computed once per image), so the image's noise does not leave holes.
        t = median_time(lambda: selection.wand_image(image), repeat=3)
        rows.append(["Wand: median filter, once per image", f"{t * 1000:.0f} ms"])
        filtered = selection.wand_image(image)
        # points are (x, y): (2000, 1500) is the disc's centre
        t = median_time(lambda: wand(filtered, (2000, 1500), 30), repeat=3)
        rows.append(["Wand, click inside the 1200 px disc", f"{t * 1000:.0f} ms"])
        t = median_time(lambda: wand(filtered, (100, 100), 30), repeat=3)
        rows.append(["Wand, click on the background (selects ~11 M pixels)",
                     f"{t * 1000:.0f} ms"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--strokes", nargs="*", type=int, default=[1, 3, 10, 30])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--max-test", type=int, default=None, help="test on a seeded subset")
    ap.add_argument("--learn", default="{}", help="JSON overrides of LearnConfig")
    ap.add_argument("--head", default="{}", help="JSON overrides of HeadConfig")
    ap.add_argument("--no-forest", action="store_true")
    ap.add_argument("--no-complete", action="store_true",
                    help="skip the complete-mask student (its column then shows nan)")
    ap.add_argument("--no-oneshot", action="store_true",
                    help="skip the student learned from all N strokes at once (with --corrected,"
                         " when its figures are known from an earlier run of the same draws)")
    ap.add_argument("--corrected", action="store_true",
                    help="also: half the strokes, learn, the rest where that model is wrong")
    ap.add_argument("--learner-seed-offset", type=int, default=0,
                    help="learn with seed + this (same draws and strokes, other learner luck)")
    ap.add_argument("--quick", action="store_true",
                    help="CI: bundled nuclei demo, 2 shots, 1 seed, 3 strokes, 10 steps")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "effort.md")
    args = ap.parse_args()
    cfg = replace(LearnConfig(loo_steps=0), **json.loads(args.learn))
    cfg = replace(cfg, head=replace(cfg.head, **json.loads(args.head)))
    if args.quick:
        from engine.io.resources import demo_dir

        root = demo_dir().parent
        args.data, args.datasets = root, [demo_dir().name]
        args.shots, args.seeds, args.strokes, args.max_test = 2, [0], [3], 4
        cfg = replace(cfg, max_steps=10, total_views=8, input_size=128)
    header = ["dataset", "seed", "complete masks"]
    for n in args.strokes:
        header += [f"N={n}: painted %", f"N={n}: student", f"N={n}: forest"]
        header += [f"N={n}: corrected student"] if args.corrected else []
    rows, runs_by = [], {}
    for name in args.datasets:
        runs = []
        for seed in args.seeds:
            r = evaluate(args.data, name, args.shots, seed, args.strokes, cfg, args.max_test,
                         not args.no_forest, args.corrected, not args.no_complete,
                         not args.no_oneshot, args.learner_seed_offset)
            runs.append(r)
            cells = [name, str(seed), f"{r['complete']:.1f}"]
            for n in args.strokes:
                cells += [f"{r[f'painted{n}']:.2f}", f"{r[f'student{n}']:.1f}",
                          f"{r[f'forest{n}']:.1f}"]
                cells += [f"{r[f'corrected{n}']:.1f}"] if args.corrected else []
            rows.append(cells)
            print("| " + " | ".join(cells) + " |", flush=True)
        runs_by[name] = runs
    summary = []
    for name, runs in runs_by.items():
        cells = [name, str(len(runs)), _fmt([r["complete"] for r in runs])]
        for n in args.strokes:
            cells += [_fmt([r[f"painted{n}"] for r in runs]),
                      _fmt([r[f"student{n}"] for r in runs]),
                      _fmt([r[f"forest{n}"] for r in runs])]
            cells += [_gap([r["complete"] for r in runs], [r[f"student{n}"] for r in runs]),
                      _won([r[f"student{n}"] for r in runs], [r[f"forest{n}"] for r in runs])]
            if args.corrected:
                fixed = [r[f"corrected{n}"] for r in runs]
                cells += [_fmt(fixed), _gap([r["complete"] for r in runs], fixed)]
        summary.append(cells)
    sum_header = ["dataset", "draws", "complete masks"]
    for n in args.strokes:
        sum_header += [f"N={n}: painted %", f"N={n}: student", f"N={n}: forest",
                       f"N={n}: complete − student", f"N={n}: student ≥ forest"]
        sum_header += ([f"N={n}: corrected student", f"N={n}: complete − corrected"]
                       if args.corrected else [])
    sel = selection_times() if not args.quick else []
    text = (markdown_table(sum_header, summary) + "\n\n" + markdown_table(header, rows)
            + (("\n\n" + markdown_table(["selection on a 4000 x 3000 image", "median"], sel))
               if sel else "")
            + f"\n\nForeground IoU (%) over {rows and runs_by[args.datasets[0]][0]['n_test']} "
              f"test images per draw; K = {args.shots}; mean ± sd (worst draw); "
              f"N strokes per support image (ceil(N/2) on the class, the rest, at least one, on "
              f"the background); learn {json.dumps(json.loads(args.learn))}; "
              f"head {json.dumps(json.loads(args.head))}; "
              f"learner seed = draw seed + {args.learner_seed_offset}; "
              f"{torch.get_num_threads()} CPU threads ({time.strftime('%Y-%m-%d')}).\n")
    write_result(args.out, text)


if __name__ == "__main__":
    main()
