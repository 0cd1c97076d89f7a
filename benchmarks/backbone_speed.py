"""Backbones side by side, interleaved in one run on the same images: learn and predict times.

For each repeat and each backbone (the order alternates between repeats, so a change of the
machine's load hits both): learn 5 shots from the nuclei speed set with the default settings
(leave-one-out estimate included: what the time targets count), then the backbone alone and
predict-only img/s on ``--images`` test images.

    python benchmarks/backbone_speed.py [--device cpu|cuda] [--repeat 2]
        [--backbones efficientnet_lite0 efficientnet_lite2]

On a shared machine only the ratios between backbones mean something; the table gives them
per repeat.  ``--learn JSON`` overrides ``LearnConfig`` (e.g. ``'{"max_steps": 20,
"loo_steps": 0}'`` for a short run on a busy machine); the table then also gives the time of
the feature phase and of one training step, and their sum for 150 steps (the default, without
the leave-one-out folds).  Prints a Markdown table and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch
from common import DEFAULT_DATA, ROOT, markdown_table, speed_set, write_result
from speed import backbone_inputs, backbone_rate, rate

from engine.infer.predict import Predictor
from engine.io.images import read_image
from engine.io.labels import ClassInfo
from engine.learning.train import LearnConfig, learn
from engine.nn.device import choose_device, describe
from engine.nn.model import HeadConfig


def time_learn(images, masks, device: str, backbone: str, overrides: dict):
    """Learn with the default settings (but ``overrides``) and ``backbone``; (model, seconds,
    time since the start at the last record of each phase)."""
    cfg = LearnConfig(device=device, head=replace(HeadConfig(), backbone=backbone), **overrides)
    t0 = time.perf_counter()
    phases: dict[str, float] = {}
    gen = learn(images, masks, [ClassInfo(1, "nucleus")], cfg)
    try:
        while True:
            rec = next(gen)
            phases[rec.phase] = time.perf_counter() - t0  # end of each phase so far
    except StopIteration as stop:
        return stop.value, time.perf_counter() - t0, phases


def measure(backbone: str, data, test_images, device: torch.device, batch: int,
            overrides: dict) -> dict:
    """One repeat for one backbone: learn, then backbone-only and predict-only img/s."""
    model, learn_s, phases = time_learn(data.images, data.support_masks, str(device), backbone,
                                        overrides)
    predictor = Predictor(model, str(device))
    batches = [test_images[i:i + batch] for i in range(0, len(test_images), batch)]
    steps = model.metadata["steps"]
    train_end = phases.get("trained", phases.get("train", learn_s))
    return {
        "learn": learn_s,
        "train": train_end,
        "features": phases["features"],
        "step": (train_end - phases["features"]) / max(steps, 1),
        "steps": steps,
        "backbone": backbone_rate(predictor, backbone_inputs(predictor, test_images, batch)),
        "predict": rate(predictor.predict_batch, batches) * batch,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--device", default=None)
    ap.add_argument("--backbones", nargs="*", default=["efficientnet_lite0", "efficientnet_lite2"])
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--learn", default="{}", help="JSON overrides of LearnConfig")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    overrides = json.loads(args.learn)
    device = choose_device(args.device)
    data = speed_set(args.data)
    test_images = [read_image(p) for p in data.rest[: args.images]]
    runs: dict[str, list[dict]] = {b: [] for b in args.backbones}
    loads = [os.getloadavg()[0]]
    for r in range(args.repeat):
        for b in args.backbones if r % 2 == 0 else args.backbones[::-1]:
            runs[b].append(measure(b, data, test_images, device, args.batch_size, overrides))
            print(b, r, runs[b][-1], flush=True)
        loads.append(os.getloadavg()[0])
    ref = args.backbones[0]
    rows = []
    for b, rs in runs.items():
        learn_ratio = [x["learn"] / y["learn"] for x, y in zip(rs, runs[ref])]
        pred_ratio = [y["predict"] / x["predict"] for x, y in zip(rs, runs[ref])]
        at150 = [x["features"] + 150 * x["step"] for x in rs]
        at150_ratio = [x / y for x, y in zip(at150, (z["features"] + 150 * z["step"]
                                                       for z in runs[ref]))]
        rows.append([
            b,
            " / ".join(f"{x['learn']:.0f}" for x in rs),
            " / ".join(f"{x['train']:.0f}" for x in rs),
            str(rs[0]["steps"]),
            " / ".join(f"{x:.2f}" for x in learn_ratio),
            " / ".join(f"{x['features']:.0f}" for x in rs),
            " / ".join(f"{x['step']:.2f}" for x in rs),
            " / ".join(f"{x:.0f}" for x in at150),
            " / ".join(f"{x:.2f}" for x in at150_ratio),
            f"{statistics.median(x['backbone'] for x in rs):.2f}",
            f"{statistics.median(x['predict'] for x in rs):.2f}",
            " / ".join(f"{x:.2f}" for x in pred_ratio),
        ])
    table = markdown_table(
        ["backbone", "learn 5 shots s (per repeat)", "of which until trained s", "steps",
         f"learn time / {ref}'s", "feature phase s", "s per step",
         "features + 150 steps s", f"that / {ref}'s", "backbone only img/s", "predict only img/s",
         f"predict time / {ref}'s"], rows)
    note = (f"\n\n{describe(device)}, {torch.get_num_threads()} threads, "
            f"torch {torch.__version__}, "
            f"{len(test_images)} nuclei images (256-512 px), batch {args.batch_size}, "
            f"learn {json.dumps(overrides)}, "
            f"{args.repeat} repeats (order alternating), 1-min load average at the start and "
            f"after each repeat: {', '.join(f'{x:.1f}' for x in loads)} "
            f"({time.strftime('%Y-%m-%d')}).\n")
    out = args.out or ROOT / "benchmarks" / "results" / f"backbone-speed-{device.type}.md"
    write_result(out, table + note)


if __name__ == "__main__":
    main()
