"""Where the student's prediction spends its time on a device: a per-stage table and the
top operators of ``torch.profiler``.

    python benchmarks/profile_predict.py [--device cuda] [--images 80] [--batch-size 4]

Learns nuclei briefly (a 3 s budget: the architecture, not the accuracy, sets the cost), then
predicts the test images in batches as ``label_folder`` does.  Stages: *prepare* (resize, pad,
upload), *backbone*, *student + decoder* (to stride-2 logits), *probabilities* (upsampling to
the working size, sigmoid), *finish* (resize to the image's size, threshold, copy to the host).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import markdown_table, quick_model, speed_set
from torch.profiler import ProfilerActivity, profile

from engine.infer.batch import label_folder
from engine.infer.predict import Predictor, finish_probs, finish_probs_tensor
from engine.io.images import read_image
from engine.io.resize import pad_to_multiple, resize_image, working_size
from engine.nn.device import describe
from engine.nn.head import upsample


def stages(pr: Predictor, batches: list[list[np.ndarray]]) -> dict[str, float]:
    """Milliseconds per image in each stage, synchronising the device between stages."""
    dev = pr.device
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    t = dict.fromkeys(("prepare", "backbone", "student + decoder", "probabilities",
                       "finish"), 0.0)
    n = 0
    with torch.no_grad(), torch.autocast(dev.type, dtype=pr._amp, enabled=pr._amp is not None):
        for batch in batches:
            groups: dict[tuple[int, int], list[np.ndarray]] = {}
            for im in batch:
                groups.setdefault(working_size(*im.shape[:2], pr.input_size), []).append(im)
            for size, ims in groups.items():
                sync()
                a = time.perf_counter()
                x = np.stack([pad_to_multiple(resize_image(im, size)) for im in ims])
                x = torch.from_numpy(x).permute(0, 3, 1, 2).to(dev)
                sync()
                b = time.perf_counter()
                feats = pr.model.features(x)
                sync()
                c = time.perf_counter()
                logits = pr.model.decode(pr.model.student_coarse(feats), feats, None).float()
                sync()
                d = time.perf_counter()
                probs = torch.sigmoid(upsample(logits[:, 1:] - logits[:, :1], x.shape[-2:]))
                probs = probs[:, :, : size[0], : size[1]]
                sync()
                e = time.perf_counter()
                if pr.finish_on_device:
                    for j, im in enumerate(ims):
                        finish_probs_tensor(probs[j], im.shape[:2])
                else:
                    host = probs.cpu().numpy()
                    for j, im in enumerate(ims):
                        finish_probs(host[j], im.shape[:2])
                f = time.perf_counter()
                for key, v in zip(t, (b - a, c - b, d - c, e - d, f - e)):
                    t[key] += v
                n += len(ims)
    return {k: v / n * 1000 for k, v in t.items()}


def pipeline_profile(pr: Predictor, paths, batch: int) -> None:
    """Where the thread calling ``label_folder`` spends its time (cProfile, top functions;
    reading and writing run on other threads and show as waits here)."""
    with tempfile.TemporaryDirectory() as tmp:
        list(label_folder(pr, paths, Path(tmp) / "warm", batch_size=batch))  # graphs, shapes
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        list(label_folder(pr, paths, Path(tmp) / "out", batch_size=batch))
        prof.disable()
        print(f"label_folder: {len(paths) / (time.perf_counter() - t):.1f} img/s under cProfile")
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None)
    ap.add_argument("--images", type=int, default=80)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = speed_set()
    pr = Predictor(quick_model(data.images, data.support_masks, args.device), args.device)
    rest = data.rest
    images = [read_image(rest[i % len(rest)]) for i in range(args.images)]
    batches = [images[i:i + args.batch_size] for i in range(0, len(images), args.batch_size)]
    stages(pr, batches[:2])  # warm-up
    runs = {True: [], False: []} if pr.device.type != "cpu" else {False: []}
    for _ in range(args.repeat):
        for on_device, results in runs.items():
            pr.finish_on_device = on_device
            results.append(stages(pr, batches))
    rows = []
    for on_device, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        rows.append([("device" if on_device else "host")] + [f"{v:.2f}" for v in med.values()]
                    + [f"{sum(med.values()):.2f}"])
    print(markdown_table(["finish on", *(f"{k} ms/img" for k in runs[False][0]), "total"],
                         rows))
    print(f"\n{describe(pr.device)}, {args.images} nuclei images, batch {args.batch_size}, "
          f"medians of {args.repeat}.\n")
    pr.finish_on_device = pr.device.type != "cpu"
    pipeline_profile(pr, [rest[i % len(rest)] for i in range(args.images)], args.batch_size)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if pr.device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        for batch in batches:
            pr.predict_batch(batch)
    for key in ["self_cpu_time_total"] + (["self_cuda_time_total"]
                                          if pr.device.type == "cuda" else []):
        print(prof.key_averages().table(sort_by=key, row_limit=15, max_name_column_width=40))


if __name__ == "__main__":
    main()
