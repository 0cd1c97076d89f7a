"""Auto-labelling a folder: a resumable generator (read ahead, predict in batches, write behind).

Outputs ``OUTPUT/<stem>.png``: a palette PNG whose pixel values are the class ids (0 =
background) and whose palette holds the class colours, at the image's own size.

Resuming: every output is written to a temp file, fsynced and renamed into place; outputs
are then recorded in batches in a done log (``OUTPUT/.distillfss-done.jsonl``, or one log per
shard) with the name, the model id and the confidence score
(:attr:`engine.infer.predict.Prediction.confidence_score`); see :mod:`engine.io.outputs`.  A run
killed at any moment leaves no half-written PNG; the next run with the same model skips the
images listed in any done log of the folder whose PNG exists, and redoes the rest.  A
different model redoes all.

Sharding: with ``shard=Shard(i, n)`` (:mod:`engine.infer.shard`) only that shard's images are
labelled, under the names the whole folder gives them, with a done log of the shard's own;
``n`` processes on any number of machines then share one output folder.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.io.images import ImageReadError, read_image_reduced
from engine.io.outputs import (
    DONE_FILE,
    BatchWriteError,
    OutputWriter,
    done_file_name,
    output_names,
    read_done,
)

from .expected import expected_sums
from .predict import Predictor
from .shard import Shard

__all__ = ["DONE_FILE", "BatchWriteError", "LabelProgress", "default_threads", "label_folder",
           "output_names", "read_done"]


@dataclass(frozen=True)
class LabelProgress:
    """One image finished.

    ``status``: 'labelled', 'resumed' (done by an earlier run) or 'failed' (``message`` says
    why).  ``labels``: ``(H, W) uint8`` for 'labelled', else None.  ``index`` counts from 1.
    ``confidence_score``: :attr:`engine.infer.predict.Prediction.confidence_score` (also for
    'resumed', from the done file), None for 'failed'.  ``expected``: the prediction's
    :func:`engine.infer.expected.expected_sums` for 'labelled' (the model's own IoU
    expectation, accumulated by :class:`engine.infer.expected.ExpectedIoU`), else None.
    """

    index: int
    total: int
    path: Path
    status: str
    message: str
    labels: np.ndarray | None
    confidence_score: float | None
    images_per_s: float
    eta_s: float | None
    expected: np.ndarray | None = None


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def default_threads(n_cores: int | None = None) -> tuple[int, int]:
    """(reader, writer) threads for :func:`label_folder`, sized by the cores present: half the
    cores decode (2 to 8), a quarter encode and write (1 to 4); 2 and 1 on up to 5 cores."""
    n = cores() if n_cores is None else n_cores
    return min(8, max(2, n // 2)), min(4, max(1, n // 4))


def read_for_prediction(path: Path, predictor: Predictor
                        ) -> tuple[np.ndarray, tuple[int, int]] | str:
    """``(pixels, full size)``, or the reason the image cannot be read.  A large JPEG that
    the predictor shrinks anyway is decoded at reduced size
    (:meth:`engine.infer.predict.Predictor.decode_long_side`)."""
    try:
        return read_image_reduced(path, predictor.decode_long_side)
    except ImageReadError as exc:
        return str(exc)
    except (OSError, MemoryError) as exc:
        return f"{path}: cannot read ({exc})"


def label_folder(predictor: Predictor, images: Sequence[str | os.PathLike],
                 output_dir: str | os.PathLike, *, batch_size: int = 4,
                 resume: bool = True, threads: tuple[int, int] | None = None,
                 shard: Shard | None = None) -> Iterator[LabelProgress]:
    """Label ``images`` with ``predictor``, writing ``output_dir/<stem>.png``.

    Yields one :class:`LabelProgress` per image: first the images finished by an earlier run
    (status 'resumed'), then the others in input order.  Unreadable images yield
    status 'failed' and the batch goes on; a failed write raises :class:`BatchWriteError`.
    Stop iterating to cancel: finished outputs stay, and a later run resumes.

    ``threads``: (reader, writer) threads decoding images and encoding + writing PNGs;
    default :func:`default_threads`.  ``shard``: label only that shard's part of ``images``
    (pass the whole folder: output names are given over all of it), recording them in the
    shard's own done log.
    """
    paths = [Path(p) for p in images]
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = output_names(paths)
    if shard is not None:
        paths = shard.select(paths)
    done = read_done(out, predictor.model_id) if resume else {}
    palette = [(0, 0, 0)] + [tuple(c.color) for c in predictor.classes]
    n_classes = len(predictor.classes)
    readers, writers = threads or default_threads()
    writer = OutputWriter(out, predictor.model_id, palette, writers,
                          log_name=done_file_name(shard.tag if shard else None))
    reader = ThreadPoolExecutor(readers, thread_name_prefix="distillfss-reader")
    todo = [p for p in paths if names[p] not in done]
    stats = LabelStats(len(paths), len(todo))
    try:
        for p in paths:
            if names[p] in done:
                yield stats.record(p, "resumed", "done by an earlier run", None, done[names[p]])
        ahead: deque[tuple[Path, Future]] = deque()
        queue = iter(todo)
        depth = max(2 * batch_size, 2 * readers)
        while True:
            while len(ahead) < depth and (p := next(queue, None)) is not None:
                ahead.append((p, reader.submit(read_for_prediction, p, predictor)))
            if not ahead:
                break
            batch = [ahead.popleft() for _ in range(min(batch_size, len(ahead)))]
            loaded = [(p, f.result()) for p, f in batch]
            good = [(p, im) for p, im in loaded if not isinstance(im, str)]
            preds = dict(zip([p for p, _ in good], predictor.predict_batch(
                [im[0] for _, im in good], sizes=[im[1] for _, im in good])))
            for p, im in loaded:
                if isinstance(im, str):
                    yield stats.record(p, "failed", im, None, None)
                    continue
                pred = preds[p]
                writer.submit(names[p], pred.labels, pred.confidence_score)
                yield stats.record(p, "labelled", "", pred.labels, pred.confidence_score,
                                   expected_sums(pred.labels, pred.confidence, n_classes))
        writer.close()
    finally:
        reader.shutdown(wait=True, cancel_futures=True)
        writer.close_quietly()


class LabelStats:
    def __init__(self, total: int, todo: int) -> None:
        self.total, self.todo, self.count, self.computed = total, todo, 0, 0
        self.start = time.perf_counter()

    def record(self, path: Path, status: str, message: str, labels, conf,
               expected: np.ndarray | None = None) -> LabelProgress:
        self.count += 1
        if status != "resumed":
            self.computed += 1
        elapsed = max(time.perf_counter() - self.start, 1e-6)
        rate = self.computed / elapsed
        left = self.total - self.count
        eta = left / rate if rate > 0 else None
        return LabelProgress(self.count, self.total, path, status, message, labels, conf,
                             rate, eta, expected)
