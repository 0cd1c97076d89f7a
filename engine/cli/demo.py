"""``distillfss demo``: learn nuclei from 5 bundled CC0 images, label the other 19, print IoU."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine.io.images import list_images, read_image, read_mask


def spread_indices(n: int, k: int) -> list[int]:
    """``k`` indices spread over ``0..n-1``: both ends first, then repeated midpoints
    (the deterministic support choice of method.md §4.1)."""
    chosen = [0, n - 1][:k] if n > 1 else [0]
    spans = [(0, n - 1)]
    while len(chosen) < min(k, n) and spans:
        lo, hi = spans.pop(0)
        mid = (lo + hi) // 2
        if mid not in chosen:
            chosen.append(mid)
        if mid - lo > 1:
            spans.append((lo, mid))
        if hi - mid > 1:
            spans.append((mid, hi))
    return sorted(chosen[:k])


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo; prints support choice, the held-out check, the estimated range, the
    test IoU and timings."""
    from engine.infer.batch import label_folder
    from engine.infer.expected import ExpectedIoU
    from engine.infer.predict import Predictor
    from engine.io.labels import ClassInfo
    from engine.io.resources import demo_dir
    from engine.learning.metrics import IoUAccumulator
    from engine.learning.train import LearnConfig, learn
    from engine.nn.modelfile import save_model

    from .common import describe_folder_estimate, describe_loo, run_learn

    root = demo_dir()
    paths = list_images(root / "images")
    support_idx = spread_indices(len(paths), 5)
    supports = [paths[i] for i in support_idx]
    rest = [p for i, p in enumerate(paths) if i not in support_idx]
    out = Path(args.out)
    print(f"demo: {len(paths)} CC0 nuclei images in {root}; learning from "
          f"{', '.join(p.name for p in supports)}", file=sys.stderr)
    t0 = time.perf_counter()
    images = [read_image(p) for p in supports]
    masks = [read_mask(root / "masks" / f"{p.stem}.png") for p in supports]
    model = run_learn(learn(images, masks, [ClassInfo(1, "nucleus", (230, 25, 75))],
                            LearnConfig(device=args.device)))
    learn_s = time.perf_counter() - t0
    model.metadata["support_files"] = [p.name for p in supports]
    save_model(model, out / "nuclei.safetensors")
    predictor = Predictor(model, args.device)
    t1 = time.perf_counter()
    acc, expected = IoUAccumulator(1), ExpectedIoU(1)
    for rec in label_folder(predictor, rest, out / "labels", resume=False):
        if rec.labels is not None:
            acc.add(rec.labels, read_mask(root / "masks" / f"{rec.path.stem}.png"))
            expected.add_sums(rec.expected)
    label_s = time.perf_counter() - t1
    print(f"device            {predictor.device}")
    print(f"learn (5 shots)   {learn_s:.1f} s ({model.metadata['steps']} steps)")
    print(describe_loo(model.metadata))
    print(f"label {len(rest)} images  {label_s:.1f} s ({len(rest) / label_s:.1f} img/s)")
    print(describe_folder_estimate(expected))
    print(f"test IoU          {acc.mean() * 100:.1f} (nucleus, {len(rest)} held-out images: "
          "the truth the estimate above did not see)")
    print(f"outputs           {out / 'labels'} (model: {out / 'nuclei.safetensors'})")
    return 0
