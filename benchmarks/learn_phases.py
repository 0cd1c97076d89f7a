"""Where the time of ``learn()`` goes: start-up, cached features, training, leave-one-out.

Learns nuclei from the same 5 supports as ``speed.py``, ``--repeat`` times in one process
(the first run pays the device's start-up: CUDA context, kernel loading; later runs are what a
second *Learn class* in a running app costs), for each JSON set of ``LearnConfig`` overrides
given (``"gpu"``: ``GpuSettings`` fields; ``"head"``: ``HeadConfig`` fields), and prints one
table row per run:

    python benchmarks/learn_phases.py --device cuda '{}' '{"gpu": {"loo_steps": 10}}'
    python benchmarks/learn_phases.py --dataset crackforest_road_cracks --seed 0 '{}'

``--dataset``/``--seed``: the 5 supports of that draw (as ``accuracy.py`` draws them) instead.

Phases are read from the progress records' ``elapsed_s``: *start* is from the call to the first
cached view, *features* to the first training step, *train* to the last one, *validate* the
leave-one-out folds, *finish* the rest (metadata, moving the model to the CPU).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from common import DEFAULT_DATA, draw_supports, load_dataset, load_pairs, markdown_table, speed_set

from engine.io.labels import ClassInfo
from engine.learning.train import GpuSettings, LearnConfig, learn
from engine.nn.device import choose_device, describe
from engine.nn.model import HeadConfig


def config_from(overrides: str, device: str) -> LearnConfig:
    over = json.loads(overrides)
    head, gpu = over.pop("head", None), over.pop("gpu", None)
    cfg = LearnConfig(**over, device=device)
    if head is not None:
        cfg = replace(cfg, head=HeadConfig(**head))
    if gpu is not None:
        cfg = replace(cfg, gpu=GpuSettings(**{**GpuSettings().__dict__, **gpu}))
    return cfg


def phases(images, masks, cfg: LearnConfig) -> dict[str, float]:
    """Seconds per phase of one ``learn()`` run, plus step counts."""
    t0 = time.perf_counter()
    first = {}
    last = {}
    steps = {}
    gen = learn(images, masks, [ClassInfo(1, "nucleus")], cfg)
    try:
        while True:
            p = next(gen)
            key = "start" if p.phase == "features" and p.step == 0 else p.phase
            first.setdefault(key, p.elapsed_s)
            last[key] = p.elapsed_s
            steps[key] = p.step
    except StopIteration:
        total = time.perf_counter() - t0
    marks = [first.get("features", 0.0), first.get("train", 0.0), last.get("train", 0.0),
             last.get("validate", last.get("train", 0.0)), total]
    return {"start": marks[0], "features": marks[1] - marks[0], "train": marks[2] - marks[1],
            "validate": marks[3] - marks[2], "finish": marks[4] - marks[3], "total": total,
            "train_steps": steps.get("train", 0), "loo_steps": steps.get("validate", 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("overrides", nargs="*", default=["{}"], help="JSON LearnConfig fields")
    ap.add_argument("--device", default=None)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--dataset", default=None, help="learn a draw of this shared set")
    ap.add_argument("--seed", type=int, default=0, help="the draw of --dataset")
    ap.add_argument("--shots", type=int, default=5)
    args = ap.parse_args()
    device = choose_device(args.device)
    if args.dataset is None:
        data = speed_set()
        images, sup_masks = data.images, data.support_masks
        what = "nuclei, 5 shots (speed.py's supports)"
    else:
        paths, masks = load_dataset(DEFAULT_DATA, args.dataset)
        images, sup_masks = load_pairs(paths, masks, draw_supports(masks, args.shots, args.seed))
        what = f"{args.dataset}, {args.shots} shots, draw {args.seed}"
    rows = []
    for over in args.overrides:
        cfg = replace(config_from(over, str(device)), seed=args.seed)
        for run in range(args.repeat):
            t = phases(images, sup_masks, cfg)
            rows.append([over, str(run + 1)] + [f"{t[k]:.2f}" for k in
                        ("start", "features", "train", "validate", "finish", "total")]
                        + [f"{t['train_steps']}", f"{t['loo_steps']}"])
            print("| " + " | ".join(rows[-1]) + " |", flush=True)
    print()
    print(markdown_table(["overrides", "run", "start s", "features s", "train s",
                          "leave-one-out s", "finish s", "total s", "train steps",
                          "LOO steps"], rows))
    print(f"\n{describe(device)}, {what}.")


if __name__ == "__main__":
    main()
