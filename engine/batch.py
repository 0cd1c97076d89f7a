"""Auto-labelling a folder: a resumable generator (read ahead, predict in batches, write behind).

Outputs ``OUTPUT/<stem>.png``: a palette PNG whose pixel values are the class ids (0 =
background) and whose palette holds the class colours, at the image's own size.

Resuming: after each output file is atomically in place, one line is appended (and fsynced)
to ``OUTPUT/.distillfss-done.jsonl`` with the stem, the model id and the confidence score
(:attr:`engine.predict.Prediction.confidence_score`).  A
run killed at any moment leaves no half-written PNG; the next run with the same model skips
the images listed there whose PNG exists, and redoes the rest.  A different model redoes all.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .io import ImageReadError, read_image_reduced, write_png_atomic
from .predict import Prediction, Predictor

DONE_FILE = ".distillfss-done.jsonl"


class BatchWriteError(OSError):
    """Writing an output failed (disk full, permissions); the batch stopped."""


@dataclass(frozen=True)
class LabelProgress:
    """One image finished.

    ``status``: 'labelled', 'resumed' (done by an earlier run) or 'failed' (``message`` says
    why).  ``labels``: ``(H, W) uint8`` for 'labelled', else None.  ``index`` counts from 1.
    ``confidence_score``: :attr:`engine.predict.Prediction.confidence_score` (also for
    'resumed', from the done file), None for 'failed'.
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


def output_names(images: Sequence[Path]) -> dict[Path, str]:
    """Output file name for each image: ``<stem>.png``; a repeated stem keeps its suffix."""
    seen: set[str] = set()
    names = {}
    for p in images:
        name = f"{p.stem}.png" if p.stem not in seen else f"{p.name}.png"
        seen.add(p.stem)
        names[p] = name
    return names


def read_done(output_dir: Path, model_id: str) -> dict[str, float]:
    """Names of outputs finished by an earlier run with ``model_id`` -> confidence score."""
    done: dict[str, float] = {}
    path = output_dir / DONE_FILE
    if not path.is_file():
        return done
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash
            if isinstance(rec, dict) and rec.get("model") == model_id:
                done[str(rec.get("name"))] = float(rec.get("confidence", float("nan")))
    return {n: c for n, c in done.items() if (output_dir / n).is_file()}


class _Writer:
    """Writes outputs on background threads, then records them in the done file."""

    def __init__(self, output_dir: Path, model_id: str, palette, threads: int = 1) -> None:
        self.dir, self.model_id, self.palette = output_dir, model_id, palette
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="distillfss-writer")
        self.pending: deque[Future] = deque()
        self.closed = False
        self.limit = 8 * threads
        self.done_lock = threading.Lock()

    def submit(self, name: str, pred: Prediction) -> None:
        self.check(block=len(self.pending) > self.limit)
        self.pending.append(self.pool.submit(self._write, name, pred))

    def _write(self, name: str, pred: Prediction) -> None:
        write_png_atomic(self.dir / name, pred.labels, palette=self.palette)
        line = json.dumps({"name": name, "model": self.model_id,
                           "confidence": round(pred.confidence_score, 5)}) + "\n"
        with self.done_lock, open(self.dir / DONE_FILE, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def check(self, block: bool = False) -> None:
        """Raise :class:`BatchWriteError` if a finished write failed."""
        while self.pending and (block or self.pending[0].done()):
            exc = self.pending.popleft().exception()
            block = False
            if exc is not None:
                self.close(cancel=True)
                raise BatchWriteError(f"could not write to {self.dir}: {exc}") from exc

    def close(self, cancel: bool = False) -> None:
        """Finish pending writes (raising on failure), or drop them when ``cancel``."""
        if self.closed:
            return
        if not cancel:
            while self.pending:
                self.check(block=True)
        self.closed = True
        self.pool.shutdown(wait=True, cancel_futures=cancel)

    def close_quietly(self) -> None:
        """Let queued writes finish without raising (used when the consumer stops early)."""
        if not self.closed:
            self.closed = True
            self.pool.shutdown(wait=True)


def _read(path: Path, predictor: Predictor) -> tuple[np.ndarray, tuple[int, int]] | str:
    """``(pixels, full size)``, or the reason the image cannot be read.  A large JPEG that
    the predictor shrinks anyway is decoded at reduced size
    (:meth:`engine.predict.Predictor.decode_long_side`)."""
    try:
        return read_image_reduced(path, predictor.decode_long_side)
    except ImageReadError as exc:
        return str(exc)
    except (OSError, MemoryError) as exc:
        return f"{path}: cannot read ({exc})"


def label_folder(predictor: Predictor, images: Sequence[str | os.PathLike],
                 output_dir: str | os.PathLike, *, batch_size: int = 4,
                 resume: bool = True,
                 threads: tuple[int, int] = (2, 1)) -> Iterator[LabelProgress]:
    """Label ``images`` with ``predictor``, writing ``output_dir/<stem>.png``.

    Yields one :class:`LabelProgress` per image: first the images finished by an earlier run
    (status 'resumed'), then the others in input order.  Unreadable images yield
    status 'failed' and the batch goes on; a failed write raises :class:`BatchWriteError`.
    Stop iterating to cancel: finished outputs stay, and a later run resumes.
    ``threads``: (reader, writer) threads decoding images and encoding + fsyncing PNGs.  The
    default 2/1 also suits a GPU machine: 8/4 threads were no faster there, at times slower
    (GIL contention), in ``benchmarks/speed.py`` (H100: 357-433 img/s end-to-end with 2/1,
    361-426 with 8/4, for 685-810 img/s of prediction alone).
    """
    paths = [Path(p) for p in images]
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = output_names(paths)
    done = read_done(out, predictor.model_id) if resume else {}
    palette = [(0, 0, 0)] + [tuple(c.color) for c in predictor.classes]
    readers, writers = threads
    writer = _Writer(out, predictor.model_id, palette, writers)
    reader = ThreadPoolExecutor(readers, thread_name_prefix="distillfss-reader")
    todo = [p for p in paths if names[p] not in done]
    stats = _Stats(len(paths), len(todo))
    try:
        for p in paths:
            if names[p] in done:
                yield stats.record(p, "resumed", "done by an earlier run", None, done[names[p]])
        ahead: deque[tuple[Path, Future]] = deque()
        queue = iter(todo)
        depth = max(2 * batch_size, 2 * readers)
        while True:
            while len(ahead) < depth and (p := next(queue, None)) is not None:
                ahead.append((p, reader.submit(_read, p, predictor)))
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
                writer.submit(names[p], preds[p])
                yield stats.record(p, "labelled", "", preds[p].labels,
                                   preds[p].confidence_score)
        writer.close()
    finally:
        reader.shutdown(wait=True, cancel_futures=True)
        writer.close_quietly()


class _Stats:
    def __init__(self, total: int, todo: int) -> None:
        self.total, self.todo, self.count, self.computed = total, todo, 0, 0
        self.start = time.perf_counter()

    def record(self, path: Path, status: str, message: str, labels, conf) -> LabelProgress:
        self.count += 1
        if status != "resumed":
            self.computed += 1
        elapsed = max(time.perf_counter() - self.start, 1e-6)
        rate = self.computed / elapsed
        left = self.total - self.count
        eta = left / rate if rate > 0 else None
        return LabelProgress(self.count, self.total, path, status, message, labels, conf,
                             rate, eta)
