"""Labelling a folder on a Ray cluster: ``distillfss label --ray [--ray-address ADDR]``.

The driver lists the images, leaves out those an earlier run finished (any done log of the
output folder, as :func:`engine.infer.batch.label_folder`), and hands the rest to Ray Data:
``map_batches`` over a pool of :class:`LabelActor`, each holding one
:class:`engine.infer.predict.Predictor` (one GPU per actor where the cluster has GPUs, one CPU per
actor otherwise).  Each actor reads, predicts and writes its outputs itself, with the same
bytes and the same crash-safe writes as a local run (:mod:`engine.io.outputs`), into a done log
of its own; a batch's rows come back to the driver only once its outputs are committed, and
the driver reports them as :class:`engine.infer.batch.LabelProgress` records.

An actor that dies (SIGKILL, out of memory, a lost node) is restarted in a new process, and the
block of rows it was labelling is given to it again: the run goes on.  What the dead actor had
committed stays done (whole outputs, its done log read with the others); the rest of its block
is labelled again, to the same bytes.  This is Ray Data's default for actor pools
(``max_restarts=-1``, ``max_task_retries=-1``: without limit; Ray 2.60), left as it is: passing
other values through ``map_batches`` is deprecated there.  So a block that kills its actor at
every try (an image that runs it out of memory) keeps restarting it until the run is stopped.

The images and the output folder must be reachable under the same paths from every node (a
shared file system), and so must the model file.  Ray is an optional
extra: ``pip install distillfss-studio[ray]``.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from engine.io.outputs import OutputWriter, done_file_name, output_names, read_done

from .batch import LabelProgress, LabelStats, default_threads, read_for_prediction

RAY_HINT = "pip install distillfss-studio[ray]"


class RayUnavailable(RuntimeError):
    """Ray is not installed (or cannot start); the message says how to install it."""


def import_ray() -> Any:
    """The ``ray`` module with ``ray.data``, or :class:`RayUnavailable`."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise RayUnavailable(f"--ray needs Ray, which is not installed: {RAY_HINT}") from None
    return ray


class LabelActor:
    """A Ray Data actor: one predictor; labels batches of ``{"path", "name"}`` rows.

    Returns per row ``status`` ('labelled' or 'failed'), ``message`` and ``confidence``
    (NaN when failed), after the batch's outputs are fsynced and in the actor's done log.
    """

    def __init__(self, model_path: str, output_dir: str, device: str | None,
                 flip_average: bool, cpus: float) -> None:
        import torch

        from ..nn.allocator import keep_freed_memory
        from .predict import Predictor

        keep_freed_memory()

        if device in (None, "cpu") and cpus >= 1:
            torch.set_num_threads(int(cpus))
        self.predictor = Predictor.from_file(model_path, device, flip_average=flip_average)
        readers, writers = default_threads(max(1, int(cpus)))
        palette = [(0, 0, 0)] + [tuple(c.color) for c in self.predictor.classes]
        tag = f"ray-{socket.gethostname()}-{os.getpid()}"
        self.writer = OutputWriter(output_dir, self.predictor.model_id, palette, writers,
                                   log_name=done_file_name(tag))
        self.reader = ThreadPoolExecutor(readers, thread_name_prefix="distillfss-reader")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [Path(str(p)) for p in batch["path"]]
        names = [str(n) for n in batch["name"]]
        loaded = list(self.reader.map(lambda p: read_for_prediction(p, self.predictor), paths))
        good = [i for i, im in enumerate(loaded) if not isinstance(im, str)]
        preds = self.predictor.predict_batch([loaded[i][0] for i in good],
                                             sizes=[loaded[i][1] for i in good])
        status, message = ["failed"] * len(paths), [""] * len(paths)
        confidence = [float("nan")] * len(paths)
        for i, pred in zip(good, preds):
            self.writer.submit(names[i], pred.labels, pred.confidence_score)
            status[i], confidence[i] = "labelled", pred.confidence_score
        for i, im in enumerate(loaded):
            if isinstance(im, str):
                message[i] = im
        self.writer.flush()  # rows are reported only once their outputs are durable
        return {"path": np.array([str(p) for p in paths], dtype=object),
                "status": np.array(status, dtype=object),
                "message": np.array(message, dtype=object),
                "confidence": np.array(confidence, dtype=np.float64)}


def label_with_ray(model_path: str | os.PathLike, images: Sequence[str | os.PathLike],
                   output_dir: str | os.PathLike, *, batch_size: int = 4, resume: bool = True,
                   flip_average: bool = False, device: str | None = None,
                   address: str | None = None, actors: int | None = None
                   ) -> Iterator[LabelProgress]:
    """Label ``images`` on Ray; yield a :class:`engine.infer.batch.LabelProgress` per image.

    As :func:`engine.infer.batch.label_folder`: first the images an earlier run finished
    ('resumed'), then each image as its batch is committed ('labelled' or 'failed'), in the
    order they finish; ``labels`` is None (the label maps stay on the actors).

    Parameters
    ----------
    model_path : path
        The model file (every node reads it from this path).
    address : str, optional
        Cluster to join; default: the Ray instance this process already started, else
        ``RAY_ADDRESS``, else a new local Ray.
    actors : int, optional
        Actor pool size; default one per GPU of the cluster, else one per CPU.
    device : str, optional
        ``cpu`` runs CPU actors even on a GPU cluster; default GPUs where there are any.

    Raises
    ------
    RayUnavailable
        When Ray is not installed.
    """
    ray = import_ray()
    from .predict import Predictor

    if actors is not None and actors < 1:
        raise ValueError("--ray-actors must be at least 1")
    paths = [Path(p) for p in images]
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = output_names(paths)
    model_id = Predictor.from_file(model_path, "cpu", flip_average=flip_average).model_id
    done = read_done(out, model_id) if resume else {}
    todo = [p for p in paths if names[p] not in done]
    stats = LabelStats(len(paths), len(todo))
    for p in paths:
        if names[p] in done:
            yield stats.record(p, "resumed", "done by an earlier run", None, done[names[p]])
    if not todo:
        return
    _start(ray, address)
    gpus = int(ray.cluster_resources().get("GPU", 0)) if device != "cpu" else 0
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    pool = min(actors or (gpus or cpus), len(todo))
    per_actor = {"num_gpus": 1} if gpus else {"num_cpus": 1}
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # the caller shows progress
    ray.data.DataContext.get_current().enable_progress_bars = False
    # Blocks of ~8 batches: every actor gets work, and progress comes back block by block.
    blocks = min(len(todo), max(2 * pool, -(-len(todo) // (8 * batch_size))))
    rows = ray.data.from_items([{"path": str(p.resolve()), "name": names[p]} for p in todo],
                               override_num_blocks=blocks)
    by_path = {str(p.resolve()): p for p in todo}
    results = rows.map_batches(
        LabelActor, batch_size=batch_size, batch_format="numpy", concurrency=pool,
        fn_constructor_kwargs={"model_path": str(Path(model_path).resolve()),
                               "output_dir": str(out.resolve()),
                               "device": "cuda" if gpus else "cpu",
                               "flip_average": flip_average, "cpus": 1.0},
        **per_actor)
    for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
        for path, status, message, conf in zip(batch["path"], batch["status"],
                                               batch["message"], batch["confidence"]):
            failed = status == "failed"
            yield stats.record(by_path[str(path)], str(status), str(message), None,
                               None if failed else float(conf))


def _start(ray: Any, address: str | None) -> None:
    """Join ``address`` (or RAY_ADDRESS), or start a local Ray, unless one is running."""
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"log_to_driver": False}
    if address is None and not os.environ.get("RAY_ADDRESS"):
        kwargs["include_dashboard"] = False
    ray.init(address=address, **kwargs)
