"""Memory while auto-labelling a large folder (architecture.md: "memory stays flat while
auto-labelling 10 000 images").

    python benchmarks/memory.py [--images 10000] [--device cpu] [--every 500]

Makes a folder of ``--images`` entries (the nuclei test images, linked under other names), learns
nuclei briefly (a 3 s budget: memory does not depend on accuracy), runs
``engine.infer.batch.label_folder`` over the folder as ``distillfss label`` does (outputs written,
results dropped), and samples this process's *current* resident memory every ``--every``
images.  Prints the samples and the growth from the first sample to the last, per 1000 images.
Linux (reads ``/proc/self/statm``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import markdown_table, quick_model, speed_set

from engine.infer.batch import label_folder
from engine.infer.predict import Predictor
from engine.nn.device import describe


def rss_mib() -> float:
    """Current resident set size of this process (MiB)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--device", default=None)
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()
    data = speed_set()
    predictor = Predictor(quick_model(data.images, data.support_masks, args.device), args.device)
    rest = data.rest
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        images = []
        for n in range(args.images):
            src = rest[n % len(rest)]
            images.append(folder / f"{n:06d}_{src.name}")
            images[-1].symlink_to(src.resolve())
        t0 = time.perf_counter()
        for rec in label_folder(predictor, images, Path(tmp) / "out",
                                batch_size=args.batch_size):
            if rec.index == 1 or rec.index % args.every == 0 or rec.index == rec.total:
                rows.append((rec.index, rss_mib(), time.perf_counter() - t0))
                print(f"| {rows[-1][0]} | {rows[-1][1]:.0f} | {rows[-1][2]:.0f} |", flush=True)
    first = next(r for r in rows if r[0] >= args.every) if len(rows) > 2 else rows[0]
    last = rows[-1]
    slope = (last[1] - first[1]) / max(last[0] - first[0], 1) * 1000
    print()
    print(markdown_table(["images done", "RSS MiB", "elapsed s"],
                         [[str(i), f"{m:.0f}", f"{s:.0f}"] for i, m, s in rows]))
    print(f"\nGrowth from image {first[0]} to {last[0]}: {last[1] - first[1]:+.0f} MiB "
          f"({slope:+.1f} MiB per 1000 images). {describe(predictor.device)}, "
          f"batch {args.batch_size}, {time.strftime('%Y-%m-%d')}.")


if __name__ == "__main__":
    main()
