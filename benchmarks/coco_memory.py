"""Peak memory of the COCO export against the number of images (synthetic predictions).

Each sample is a small label map (64 x 64 by default) with a few discs of two classes, one
of them a ring with a hole (written as RLE), made on the fly so that the samples themselves
hold no memory.  The streamed exporter (``engine.io.formats.coco.export_coco``) is measured at
each size, and up to ``--in-memory-max`` images also the writer it replaced (the whole
document in memory, one ``json.dumps``).  Peak memory is tracemalloc's peak of Python and
numpy allocations during the export.

    python benchmarks/coco_memory.py [--sizes 10000 100000] [--in-memory-max 10000]

Prints a Markdown table and writes it to ``benchmarks/results/coco-memory.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from common import ROOT, markdown_table, write_result

from engine.io.formats import Sample
from engine.io.formats.coco import coco_annotation, export_coco
from engine.io.formats.common import ClassBook, dump_json
from engine.io.formats.geometry import instances
from engine.io.images import write_text_atomic

CLASSES = {1: "disc", 2: "ring"}


def samples(n: int, side: int) -> Iterator[Sample]:
    """``n`` synthetic predictions, a few components each (deterministic)."""
    rng = np.random.default_rng(0)
    for i in range(n):
        lab = np.zeros((side, side), np.uint8)
        for _ in range(3):
            c = tuple(int(v) for v in rng.integers(8, side - 8, 2))
            cv2.circle(lab, c, int(rng.integers(3, 7)), 1, -1)
        c = tuple(int(v) for v in rng.integers(12, side - 12, 2))
        cv2.circle(lab, c, 9, 2, -1)
        cv2.circle(lab, c, 4, 0, -1)  # a hole: this component is written as RLE
        yield Sample(f"img{i:07d}", lab, Path(f"img{i:07d}.jpg"))


def export_in_memory(items, classes, out_dir: Path) -> Path:
    """The COCO writer before it streamed (kept here to measure it)."""
    book = ClassBook(classes)
    images, annotations = [], []
    for image_id, s in enumerate(items, start=1):
        h, w = s.labels.shape
        images.append({"id": image_id, "file_name": s.image_name, "width": w, "height": h})
        for inst in instances(s.labels):
            book.index(inst.class_id)
            ann = coco_annotation(inst, (h, w), "auto")
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
    data = {"info": {"description": "exported by DistillFSS Studio"}, "images": images,
            "annotations": annotations,
            "categories": [{"id": k, "name": v, "supercategory": ""}
                           for k, v in sorted(book.names.items())]}
    path = out_dir / "annotations.json"
    write_text_atomic(path, dump_json(data))
    return path


def measure(export, n: int, side: int) -> tuple[float, float, float]:
    """(peak MiB, seconds, file MiB) of one export of ``n`` samples."""
    with tempfile.TemporaryDirectory() as tmp:
        tracemalloc.start()
        t = time.perf_counter()
        path = export(samples(n, side), CLASSES, Path(tmp))
        seconds = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return peak, seconds, path.stat().st_size / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--side", type=int, default=64, help="label map side in pixels")
    ap.add_argument("--in-memory-max", type=int, default=10_000,
                    help="also measure the in-memory writer the streamed one replaced, at "
                         "sizes up to this (default 10000; 0: never)")
    args = ap.parse_args()
    rows = []
    for n in args.sizes:
        writers = [("streamed", export_coco)]
        if n <= args.in_memory_max:
            writers.append(("in memory (before)", export_in_memory))
        for name, fn in writers:
            peak, seconds, size = measure(fn, n, args.side)
            rows.append([name, f"{n:,}", f"{peak:.1f} MiB", f"{size:.0f} MiB", f"{seconds:.0f} s"])
            print(rows[-1], flush=True)
    table = markdown_table(["writer", "images", "peak memory (tracemalloc)", "file",
                            "time (traced)"], rows)
    note = (f"\n\n{args.side}x{args.side} synthetic label maps, 4 components each (one with a "
            f"hole, RLE); `python benchmarks/coco_memory.py --sizes "
            f"{' '.join(map(str, args.sizes))} --in-memory-max {args.in_memory_max}`, "
            f"{time.strftime('%Y-%m-%d')}.\n")
    out = ROOT / "benchmarks" / "results" / "coco-memory.md"
    write_result(out, table + note)


if __name__ == "__main__":
    main()
