"""Speed benchmark, all numbers from one run on one machine.

- backbone-only forward img/s on the same forward passes as the labelling pipeline (the floor)
- student end-to-end img/s: read -> predict -> write PNG (``engine.infer.batch.label_folder``)
- student predict-only img/s (images already in memory)
- teacher img/s with 5 and 50 support shots (support features cached once)
- learn time for 5 shots (default settings) and the delay to the first progress record
- peak resident memory

    python benchmarks/speed.py [--device cpu|cuda] [--images N] [--repeat 3]

Throughputs are medians of ``--repeat`` interleaved runs.  ``--images`` defaults to 40 on a
CPU and 400 on a GPU (the 95 test images repeated under other names: 40 take a GPU well under a
second, too short to time).  On a machine with 16 or more cores end-to-end is also timed with
8 reader and 4 writer threads instead of 2/1.  End-to-end uses ``label_folder``'s default
threads (:func:`engine.infer.batch.default_threads`, sized by the cores).

``--baseline REF`` also times end-to-end with ``engine/infer/batch.py`` as it was at git revision
REF (interleaved with the other measures, same model and images), to compare a change of the
pipeline in one run.  ``--quick`` learns a short model (10 steps) and skips the teacher and
learn rows: for pipeline measurements, whose cost does not depend on how well it learned.

Prints a Markdown table and writes it to ``benchmarks/results/speed-<device>.md`` (or
``--out``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import (
    DEFAULT_DATA,
    ROOT,
    binary_mask,
    markdown_table,
    quick_model,
    speed_set,
    write_result,
)
from fewshot import TeacherPredictor

from engine.infer.batch import default_threads, label_folder
from engine.infer.graphs import GraphCache
from engine.infer.predict import Predictor
from engine.io.images import read_image
from engine.io.labels import ClassInfo
from engine.io.resize import pad_to_multiple, resize_image, working_size
from engine.learning.train import LearnConfig, learn
from engine.nn.device import autocast_dtype, choose_device, describe


def peak_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_learn(images, masks, device: str):
    t0 = time.perf_counter()
    gen = learn(images, masks, [ClassInfo(1, "nucleus")], LearnConfig(device=device))
    first = None
    try:
        while True:
            next(gen)
            first = first or time.perf_counter() - t0
    except StopIteration as stop:
        return stop.value, time.perf_counter() - t0, first


def backbone_inputs(predictor: Predictor, images, batch: int) -> list[torch.Tensor]:
    """The backbone's inputs on exactly the forward passes the labelling pipeline makes:
    consecutive chunks of ``batch`` images, each split by working size (as ``predict_batch``),
    resized, padded and on the predictor's device."""
    tensors = []
    for start in range(0, len(images), batch):
        groups: dict[tuple[int, int], list[np.ndarray]] = {}
        for im in images[start:start + batch]:
            size = working_size(*im.shape[:2], predictor.input_size)
            groups.setdefault(size, []).append(pad_to_multiple(resize_image(im, size)))
        tensors += [torch.from_numpy(np.stack(g)).permute(0, 3, 1, 2).to(predictor.device)
                    for g in groups.values()]
    return tensors


def backbone_rate(predictor: Predictor, tensors: list[torch.Tensor],
                  graphs: bool = False) -> float:
    """img/s of the backbone alone on :func:`backbone_inputs` (so this excludes resizing, like
    the backbone's own cost).  ``graphs``: replayed from one CUDA graph per shape (as the
    predictor runs on CUDA)."""
    model, amp = predictor.model, autocast_dtype(predictor.device)  # as the predictor runs it
    forward = model.features
    if graphs:  # every shape captured at its first (warm-up) call
        forward = GraphCache(lambda x: model.features(x)[-1], max_graphs=10**6, min_uses=1)
    with torch.no_grad(), torch.autocast(predictor.device.type, dtype=amp, enabled=amp is not None,
                                         cache_enabled=False):
        for x in {tuple(x.shape): x for x in tensors}.values():  # warm-up: every shape once
            forward(x)  # (a GPU loads kernels lazily, per shape)
        assert not graphs or forward.disabled is None, forward.disabled
        sync(predictor.device)
        t = time.perf_counter()
        for x in tensors:
            forward(x)
        sync(predictor.device)
    return sum(len(x) for x in tensors) / (time.perf_counter() - t)


# Where the modules that ``engine/batch.py`` imported before the engine was split in layers
# live now: a revision from before that reads them from here.
_FLAT_IMPORTS = {"from .io import": "from engine.io.images import",
                 "from .outputs import": "from engine.io.outputs import",
                 "from .predict import": "from engine.infer.predict import",
                 "from .shard import": "from engine.infer.shard import"}


def baseline_label_folder(ref: str):
    """``label_folder`` of ``engine/infer/batch.py`` (``engine/batch.py`` before the engine
    was split in layers) at git revision ``ref``, importing today's other modules."""
    for path, package in (("engine/infer/batch.py", "engine.infer"), ("engine/batch.py", None)):
        proc = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=ROOT, check=False,
                              capture_output=True, text=True)
        if proc.returncode == 0:
            break
    else:
        raise SystemExit(f"no engine batch module at {ref}")
    src = proc.stdout
    if package is None:
        for before, after in _FLAT_IMPORTS.items():
            src = src.replace(before, after)
        package = "engine.infer"
    name = "engine.infer.batch_baseline"
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))
    mod.__package__ = package  # its relative imports resolve in today's engine
    sys.modules[name] = mod
    exec(compile(src, f"{ref}:{path}", "exec"), mod.__dict__)  # noqa: S102 - the baseline's code
    return mod.label_folder


def rate(fn, items) -> float:
    fn(items[0])  # warm-up
    t = time.perf_counter()
    for it in items:
        fn(it)
    return len(items) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--device", default=None)
    ap.add_argument("--images", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the throughput measures")
    ap.add_argument("--baseline", metavar="REF", default=None,
                    help="also time end-to-end with engine/infer/batch.py at this git revision")
    ap.add_argument("--quick", action="store_true",
                    help="short model, no teacher or learn rows (pipeline measurements)")
    ap.add_argument("--out", type=Path, default=None, help="results file")
    args = ap.parse_args()
    device = choose_device(args.device)
    data = speed_set(args.data)
    paths, masks = data.paths, data.masks
    if args.quick:
        model, learn_s, first_s = quick_model(data.images, data.support_masks, str(device)), 0, 0
    else:
        model, learn_s, first_s = time_learn(data.images, data.support_masks, str(device))
    old_label_folder = baseline_label_folder(args.baseline) if args.baseline else None
    mem_learn = peak_mib()
    if device.type == "cuda":  # what prediction keeps on the GPU: model copy, graph pool
        torch.cuda.empty_cache()
        held_before = torch.cuda.memory_reserved()
    predictor = Predictor(model, str(device))
    n_images = args.images or (40 if device.type == "cpu" else 400)
    rest = data.rest
    more = (8, 4) if (os.cpu_count() or 1) >= 16 else None
    # The machine is noisy: interleave the measures, repeat, report medians.
    bbs, e2es, onlys, e2es_more, onlys_host, e2es_old = [], [], [], [], [], []
    bbs_eager, onlys_eager = [], []  # on CUDA: without graphs
    with tempfile.TemporaryDirectory() as tmp:
        test_paths = []
        for n in range(n_images):  # the test images, repeated under other names if need be
            src = rest[n % len(rest)]
            test_paths.append(src if n < len(rest) else Path(tmp) / f"{n:05d}_{src.name}")
            if n >= len(rest):
                test_paths[-1].symlink_to(src.resolve())
        test_images = [read_image(p) for p in test_paths]
        list(label_folder(predictor, test_paths[:4], Path(tmp) / "warm"))

        def end_to_end(out: Path, threads: tuple[int, int] | None, fn=label_folder) -> float:
            t = time.perf_counter()
            list(fn(predictor, test_paths, out, batch_size=args.batch_size,
                    resume=False, threads=threads))
            return len(test_paths) / (time.perf_counter() - t)

        inputs = backbone_inputs(predictor, test_images, args.batch_size)
        for r in range(args.repeat):
            bbs.append(backbone_rate(predictor, inputs))
            if predictor.graphs is not None:  # the faster of the two is the floor
                bbs_eager.append(bbs[-1])
                bbs[-1] = max(bbs[-1], backbone_rate(predictor, inputs, graphs=True))
            if old_label_folder is not None:  # alternate which goes first
                if r % 2:
                    e2es_old.append(end_to_end(Path(tmp) / f"old{r}", (2, 1), old_label_folder))
                e2es.append(end_to_end(Path(tmp) / f"out{r}", None))
                if not r % 2:
                    e2es_old.append(end_to_end(Path(tmp) / f"old{r}", (2, 1), old_label_folder))
            else:
                e2es.append(end_to_end(Path(tmp) / f"out{r}", None))
            if more:
                e2es_more.append(end_to_end(Path(tmp) / f"more{r}", more))
            batches = [test_images[i:i + args.batch_size]
                       for i in range(0, len(test_images), args.batch_size)]
            onlys.append(rate(predictor.predict_batch, batches) * args.batch_size)
            if device.type != "cpu":  # the same with resizing/thresholding on the host
                predictor.finish_on_device = False
                onlys_host.append(rate(predictor.predict_batch, batches) * args.batch_size)
                predictor.finish_on_device = True
            if predictor.graphs is not None:  # the same without CUDA graphs
                predictor.graphs.disabled = "measuring eager prediction"
                onlys_eager.append(rate(predictor.predict_batch, batches) * args.batch_size)
                predictor.graphs.disabled = None
    bb, e2e, only = (statistics.median(v) for v in (bbs, e2es, onlys))
    ratios = sorted(e / b for e, b in zip(e2es, bbs))
    teacher = {}
    for k in () if args.quick else (5, 50):
        idx = list(range(0, 100, 100 // k))[:k]
        tp = TeacherPredictor(model, [read_image(paths[i]) for i in idx],
                              [binary_mask(masks[i]) for i in idx], device=str(device))
        teacher[k] = rate(tp.predict, test_images[:10])
        del tp
    rows = [
        ["backbone only (forward)", f"{bb:.2f} img/s", "floor of the cost"
         + (f" (the faster of CUDA graphs and eager: eager {statistics.median(bbs_eager):.2f})"
            if bbs_eager else "")],
        ["student end-to-end (read, predict, write PNG)", f"{e2e:.2f} img/s",
         f"{e2e / bb * 100:.0f} % of backbone (per repeat: "
         + ", ".join(f"{r * 100:.0f}" for r in ratios) + " %); "
         + "{} readers, {} writers".format(*default_threads())],
        ["student predict only", f"{only:.2f} img/s", ""],
    ]
    if onlys_eager:
        rows.append(["student predict only, without CUDA graphs",
                     f"{statistics.median(onlys_eager):.2f} img/s",
                     f"graphs of {len(predictor.graphs.shapes)} batch shapes"])
    if onlys_host:
        rows.append(["student predict only, finished on the host",
                     f"{statistics.median(onlys_host):.2f} img/s",
                     "resize + threshold with OpenCV on the CPU (before 2026-11-26)"])
    if e2es_old:
        old = statistics.median(e2es_old)
        rows.append([f"student end-to-end, engine/infer/batch.py at {args.baseline}",
                     f"{old:.2f} img/s",
                     (f"{old / bb * 100:.0f} % of backbone (per repeat: "
                      + ", ".join(f"{e:.1f}" for e in e2es_old) + " img/s; now: "
                      + ", ".join(f"{e:.1f}" for e in e2es) + "); 2 readers, 1 writer")])
    if e2es_more:
        e2e_more = statistics.median(e2es_more)
        rows.append([f"student end-to-end, {more[0]} readers, {more[1]} writers",
                     f"{e2e_more:.2f} img/s", f"{e2e_more / bb * 100:.0f} % of backbone"])
    rows += [
        *([f"teacher, {k} shots", f"{teacher[k]:.2f} img/s",
           f"student / teacher = {only / teacher[k]:.1f}x"] for k in teacher),
        *([["learn 5 shots (default settings)", f"{learn_s:.1f} s",
            f"{model.metadata['steps']} steps; first progress after {first_s:.2f} s"]]
          if not args.quick else []),
        ["peak memory after learning", f"{mem_learn:.0f} MiB", "process RSS"],
        ["peak memory at the end", f"{peak_mib():.0f} MiB", "process RSS"],
    ]
    if device.type == "cuda":
        rows.append(["peak GPU memory", f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB",
                     "torch allocator, whole run"])
        torch.cuda.empty_cache()
        held = (torch.cuda.memory_reserved() - held_before) / 2**20
        rows.append(["GPU memory the predictor keeps", f"{held:.0f} MiB",
                     (f"bf16 model copy and the pool of {len(predictor.graphs.shapes)} CUDA "
                      "graphs (teacher predictors freed)")])
    table = markdown_table(["measure", "value", "note"], rows)
    note = (f"\n\n{describe(device)}, {torch.get_num_threads()} threads, "
            f"torch {torch.__version__}, "
            f"{len(test_paths)} nuclei images (256-512 px), batch {args.batch_size}, "
            f"{time.strftime('%Y-%m-%d')}.\n")
    out = args.out or ROOT / "benchmarks" / "results" / f"speed-{device.type}.md"
    write_result(out, table + note)


if __name__ == "__main__":
    main()
