"""Label outputs on disk: output names, palette PNGs, done logs and batched durability.

Each output ``OUTPUT/<name>.png`` is encoded in memory, written to a hidden temp file beside
it, fsynced and renamed into place, so a visible output is always whole, whatever kills the
process.  Finished outputs are recorded in a done log (one JSON line each: name, model id,
confidence) in batches: the folder is fsynced once for the batch (the renames are then on
disk), the lines are appended and the log is fsynced once.  A line therefore only ever names
a file whose data and name are on disk; a crash loses at most the last batch's lines, and
those images are labelled again on the next run.

Several writers may share one output folder (shards, Ray actors): each appends to a done
log of its own (:func:`done_file_name`); :func:`read_done` reads them all.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from .images import atomic_write, fsync_dir

DONE_FILE = ".distillfss-done.jsonl"
_DONE_PREFIX, _DONE_SUFFIX = ".distillfss-done", ".jsonl"


class BatchWriteError(OSError):
    """Writing an output failed (disk full, permissions); the batch stopped."""


def done_file_name(tag: str | None = None) -> str:
    """Name of the done log of one writer: :data:`DONE_FILE`, or e.g.
    ``.distillfss-done.shard-0-of-4.jsonl`` for ``tag="shard-0-of-4"``."""
    return DONE_FILE if not tag else f"{_DONE_PREFIX}.{tag}{_DONE_SUFFIX}"


def done_logs(output_dir: str | os.PathLike) -> list[Path]:
    """Every done log in ``output_dir`` (the local run's, shards', Ray actors'), sorted."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith(_DONE_PREFIX) and p.name.endswith(_DONE_SUFFIX)
                  and (p.name == DONE_FILE or p.name.startswith(_DONE_PREFIX + ".")))


def read_done(output_dir: str | os.PathLike, model_id: str) -> dict[str, float]:
    """Outputs finished with ``model_id`` by any earlier run, in any done log of the folder:
    output name -> confidence score.  Names whose file is gone are left out."""
    out = Path(output_dir)
    done: dict[str, float] = {}
    for path in done_logs(out):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash
                if isinstance(rec, dict) and rec.get("model") == model_id:
                    done[str(rec.get("name"))] = float(rec.get("confidence", float("nan")))
    return {n: c for n, c in done.items() if (out / n).is_file()}


def output_names(images: Sequence[str | os.PathLike]) -> dict[Path, str]:
    """Output file name for each image: ``<stem>.png``; a repeated stem keeps its suffix."""
    seen: set[str] = set()
    names = {}
    for p in map(Path, images):
        name = f"{p.stem}.png" if p.stem not in seen else f"{p.name}.png"
        seen.add(p.stem)
        names[p] = name
    return names


def label_png(labels: np.ndarray, palette: Sequence[tuple[int, int, int]]) -> bytes:
    """An ``(H, W) uint8`` label map as palette PNG bytes (pixel values = class ids), the same
    bytes as :func:`engine.io.images.write_png_atomic` writes."""
    im = Image.fromarray(np.ascontiguousarray(labels))
    flat = [int(c) for rgb in palette for c in rgb][:768]
    im.putpalette(flat + [0] * (768 - len(flat)))
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)  # see engine.io.images.write_png_atomic
    return buf.getvalue()


def write_synced(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`engine.io.images.atomic_write`) without
    fsyncing the folder: :class:`DoneLog` does that once per batch."""
    atomic_write(path, lambda f: f.write(data), sync_folder=False)


class DoneLog:
    """One writer's done log: :meth:`commit` makes a batch of written outputs durable."""

    def __init__(self, output_dir: str | os.PathLike, name: str = DONE_FILE) -> None:
        self.dir = Path(output_dir)
        self.path = self.dir / name
        self._lock = threading.Lock()
        self._checked_end = False

    def commit(self, lines: Sequence[str]) -> None:
        """fsync the folder, append ``lines`` (each ending in a newline), fsync the log."""
        if not lines:
            return
        with self._lock:
            fsync_dir(self.dir)
            text = "".join(lines)
            if not self._checked_end:  # a line cut by a crash must not swallow the next one
                self._checked_end = True
                if _ends_mid_line(self.path):
                    text = "\n" + text
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())


def _ends_mid_line(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False


def done_line(name: str, model_id: str, confidence: float) -> str:
    """The done-log line of one output."""
    return json.dumps({"name": name, "model": model_id,
                       "confidence": round(float(confidence), 5)}) + "\n"


class OutputWriter:
    """Encodes and writes label PNGs on background threads; commits them to a done log in
    batches of at most ``commit_files`` files or ``commit_s`` seconds (whichever comes first).

    ``threads``: encoding/writing threads (PNG encoding and fsync release the GIL).
    """

    def __init__(self, output_dir: str | os.PathLike, model_id: str,
                 palette: Sequence[tuple[int, int, int]], threads: int = 1,
                 log_name: str = DONE_FILE, commit_files: int = 64,
                 commit_s: float = 0.2) -> None:
        self.dir, self.model_id, self.palette = Path(output_dir), model_id, palette
        self.log = DoneLog(self.dir, log_name)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="distillfss-writer")
        self.pending: deque[Future] = deque()
        self.closed = False
        self.limit = 8 * threads
        self.commit_files, self.commit_s = commit_files, commit_s
        self._ready: list[str] = []
        self._ready_lock = threading.Lock()
        self._last_commit = time.monotonic()

    def submit(self, name: str, labels: np.ndarray, confidence: float) -> None:
        """Queue one output (blocks while too many are queued; raises an earlier failure)."""
        self.check(block=len(self.pending) > self.limit)
        self.pending.append(self.pool.submit(self._write, name, labels, confidence))

    def _write(self, name: str, labels: np.ndarray, confidence: float) -> None:
        write_synced(self.dir / name, label_png(labels, self.palette))
        with self._ready_lock:
            self._ready.append(done_line(name, self.model_id, confidence))
            due = (len(self._ready) >= self.commit_files
                   or time.monotonic() - self._last_commit >= self.commit_s)
        if due:
            self.commit()

    def commit(self) -> None:
        """Record every output written so far in the done log (one batch)."""
        with self._ready_lock:
            lines, self._ready = self._ready, []
            self._last_commit = time.monotonic()
        self.log.commit(lines)

    def check(self, block: bool = False) -> None:
        """Raise :class:`BatchWriteError` if a finished write failed."""
        while self.pending and (block or self.pending[0].done()):
            exc = self.pending.popleft().exception()
            block = False
            if exc is not None:
                self.close(cancel=True)
                raise BatchWriteError(f"could not write to {self.dir}: {exc}") from exc

    def flush(self) -> None:
        """Wait for every queued output and commit them (raising on a failed write)."""
        while self.pending:
            self.check(block=True)
        self.commit()

    def close(self, cancel: bool = False) -> None:
        """Finish pending writes (raising on failure), or drop queued ones when ``cancel``;
        outputs already written are committed either way."""
        if self.closed:
            return
        if not cancel:
            self.flush()
        self.closed = True
        self.pool.shutdown(wait=True, cancel_futures=cancel)
        self.commit()

    def close_quietly(self) -> None:
        """Let queued writes finish and commit them, without raising (the consumer stopped
        early)."""
        if not self.closed:
            self.closed = True
            self.pool.shutdown(wait=True)
            try:
                self.commit()
            except OSError:
                pass
