"""Live mode speed: how long until the first live overlay, and each round after it.

Scribbles (10 strokes per image, ``scribbles.py``) on the first K nuclei images; a first live
round from scratch, the prediction of the shown image, then a warm-started round (what a new
stroke costs).  Run it on an idle machine.

    python benchmarks/live_speed.py --examples 1 3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from common import DEFAULT_DATA, ROOT, load_dataset, load_pairs, markdown_table, write_result
from scribbles import scribble

from engine.infer.predict import Predictor
from engine.io.labels import ClassInfo
from engine.learning.live import live_round
from engine.run import drive


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", nargs="*", type=int, default=[1, 3])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "live-cpu.md")
    args = ap.parse_args()
    images, masks = load_dataset(DEFAULT_DATA, "nuclei_dsb2018")
    rows = []
    for k in args.examples:
        ims, ms = load_pairs(images, masks, list(range(k)))
        scr = [scribble(m, 10, np.random.default_rng(0)) for m in ms]
        cls = [ClassInfo(1, "nucleus", (255, 0, 0))]
        t = time.perf_counter()
        first = drive(live_round(ims, scr, cls, None))
        t_first = time.perf_counter() - t
        t = time.perf_counter()
        Predictor(first).predict(ims[-1])
        t_pred = time.perf_counter() - t
        t = time.perf_counter()
        nxt = drive(live_round(ims, scr, cls, first))
        t_next = time.perf_counter() - t
        rows.append([str(k), f"{ims[0].shape[1]}x{ims[0].shape[0]}",
                     f"{t_first:.1f} s ({first.metadata['steps']} steps)", f"{t_pred:.2f} s",
                     f"{t_first + t_pred:.1f} s",
                     f"{t_next:.1f} s ({nxt.metadata['steps']} steps)"])
        print("| " + " | ".join(rows[-1]) + " |", flush=True)
    text = (markdown_table(["examples", "image", "first round", "predict", "first overlay",
                            "next round (warm start)"], rows)
            + f"\n\n{torch.get_num_threads()} CPU threads, {time.strftime('%Y-%m-%d')}; the app "
              "adds its 0.3 s check for changed strokes and reading the examples.\n")
    write_result(args.out, text)


if __name__ == "__main__":
    main()
