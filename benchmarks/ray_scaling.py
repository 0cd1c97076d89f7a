"""Throughput of ``distillfss label --ray`` against the number of actors, on one machine.

Starts a local Ray with the machine's cores (``ray.init(num_cpus=...)``), then labels the
same folder (the nuclei test images, repeated under other names to ``--images``) with 1, 2,
4 ... CPU actors up to the cores present (``--actors`` to choose), each into a fresh output
folder, each actor with one torch thread.  Also times the one-process pipeline
(``engine.infer.batch.label_folder``) on the same images.  Each run counts its wall time, actor
start included, and the time to its first committed block (Ray returns results block by
block, so a rate between results would mostly measure the block size).

    python benchmarks/ray_scaling.py [--images 128] [--actors 1 2] [--batch-size 4]

Needs the ``[ray]`` extra.  Prints a Markdown table and writes it to
``benchmarks/results/ray-scaling-cpu.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import DEFAULT_DATA, ROOT, markdown_table, quick_model, speed_set, write_result

from engine.infer.batch import cores, label_folder
from engine.infer.predict import Predictor
from engine.infer.ray_label import import_ray, label_with_ray
from engine.nn.modelfile import save_model


def timed(records) -> tuple[float, float, int]:
    """(wall s, s to the first record, images) of a progress generator."""
    t0 = time.perf_counter()
    first = None
    n = 0
    for _ in records:
        n += 1
        first = first or time.perf_counter() - t0
    return time.perf_counter() - t0, first or 0.0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--images", type=int, default=128)
    ap.add_argument("--actors", type=int, nargs="+", default=None)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    ray = import_ray()
    n_cores = cores()
    actors = args.actors or [k for k in (1, 2, 4, 8, 16, 32) if k <= n_cores]
    data = speed_set(args.data)
    model = quick_model(data.images, data.support_masks, "cpu")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model_path = tmp_path / "model.dfss"
        save_model(model, model_path)
        folder = tmp_path / "in"
        folder.mkdir()
        for n in range(args.images):
            src = data.rest[n % len(data.rest)]
            (folder / f"{n:05d}_{src.name}").symlink_to(src.resolve())
        images = sorted(folder.iterdir())
        ray.init(num_cpus=n_cores, include_dashboard=False, log_to_driver=False)
        try:
            results: dict[str, list[tuple[float, float]]] = {}
            predictor = Predictor(model, "cpu")
            for r in range(args.repeat):  # interleaved repeats; medians reported
                out = tmp_path / f"local{r}"
                wall, steady, _ = timed(label_folder(predictor, images, out,
                                                     batch_size=args.batch_size))
                results.setdefault("one process", []).append((wall, steady))
                for k in actors:
                    out = tmp_path / f"ray{k}-{r}"
                    wall, steady, n = timed(label_with_ray(
                        model_path, images, out, batch_size=args.batch_size, actors=k,
                        device="cpu"))
                    assert n == len(images), n
                    results.setdefault(f"ray, {k} actor(s)", []).append((wall, steady))
                    print(k, wall, steady, flush=True)
        finally:
            ray.shutdown()
    one_actor = statistics.median(w for w, _ in results["ray, 1 actor(s)"])
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        first = statistics.median(f for _, f in runs)
        rows.append([name, f"{len(images) / wall:.1f} img/s", f"{wall:.1f} s",
                     f"{first:.1f} s", f"{one_actor / wall:.2f}x"
                     if name.startswith("ray") else ""])
    table = markdown_table(["run", "end-to-end (start included)", "wall",
                            "first result after", "vs 1 actor"], rows)
    note = (f"\n\n{n_cores} cores, load average before the run {os.getloadavg()[0]:.1f}, torch "
            f"{torch.__version__} ({torch.get_num_threads()} threads in the one-process run, "
            f"1 per actor), ray {ray.__version__}, {len(images)} "
            f"nuclei images (256-512 px), batch {args.batch_size}, medians of {args.repeat}, "
            f"{time.strftime('%Y-%m-%d')}.\n")
    out_file = ROOT / "benchmarks" / "results" / f"ray-scaling-cpu-{n_cores}cores.md"
    write_result(out_file, table + note)


if __name__ == "__main__":
    main()
