"""How right are scribbles grown over superpixels?  (No training: labels against the truth.)

For each dataset and support draw (the draws and scribbles of ``effort.py``: N strokes per
example), grow each example's strokes with :func:`engine.learning.propagate.propagate_strokes`
at the working scale and count, per label, the pixels added (as a multiple of the painted
pixels of that label) and the share of them the ground truth agrees with.

    cd benchmarks && python propagation.py --seeds 0 1 2 3 4 --side 20
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import (
    DATASETS,
    DEFAULT_DATA,
    draw_supports,
    load_dataset,
    load_pairs,
    markdown_table,
    write_result,
)
from scribbles import scribble

from engine.learning.config import LearnConfig
from engine.learning.features import to_working
from engine.learning.propagate import propagate_strokes


def grown_counts(root: Path, name: str, seed: int, strokes: int, side: int, long_side: int
                 ) -> np.ndarray:
    """``[class added, class right, class painted, bg added, bg right, bg painted]`` over the
    5 examples of one draw."""
    images, masks = load_dataset(root, name)
    sup_images, sup_masks = load_pairs(images, masks, draw_supports(masks, 5, seed))
    rng = np.random.default_rng(10_000 * seed + strokes)  # effort.py's scribbles
    counts = np.zeros(6)
    for image, mask in zip(sup_images, sup_masks):
        scr = scribble(mask, strokes, rng)
        work, scr_w = to_working(image, scr, long_side)
        _, truth = to_working(image, mask, long_side)
        out = propagate_strokes(work, scr_w, side)
        for j, (label, right) in enumerate([(1, truth > 0), (0, truth == 0)]):
            added = (out == label) & (scr_w != label)
            counts[3 * j: 3 * j + 3] += [added.sum(), (added & right).sum(),
                                         (scr_w == label).sum()]
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", nargs="*", default=DATASETS)
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    ap.add_argument("--strokes", type=int, default=10)
    ap.add_argument("--side", type=int, default=20, help="superpixel side, working-scale px")
    ap.add_argument("--out", type=Path, default=Path("/tmp/propagation.md"))
    args = ap.parse_args()
    long_side = LearnConfig().input_size
    rows = []
    for name in args.datasets:
        c = sum(grown_counts(args.data, name, s, args.strokes, args.side, long_side)
                for s in args.seeds)
        rows.append([name, str(len(args.seeds)), f"{c[0] / max(c[2], 1):.2f}",
                     f"{100 * c[1] / max(c[0], 1):.1f}", f"{c[3] / max(c[5], 1):.2f}",
                     f"{100 * c[4] / max(c[3], 1):.1f}"])
    table = markdown_table(["dataset", "draws", "class added / painted", "class right %",
                            "background added / painted", "background right %"], rows)
    write_result(args.out, table + f"\n\n{args.strokes} strokes per example on 5 examples, "
                 f"superpixels {args.side} px across at {long_side} px; pixels summed over "
                 "the draws.\n")


if __name__ == "__main__":
    main()
