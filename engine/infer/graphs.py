"""Replaying CUDA graphs of a fixed-shape forward pass (prediction on a GPU).

On a GPU the student's prediction is bound by the host: one image's forward pass is ~225
small kernels, and launching them costs more CPU time than the GPU spends running them
(``benchmarks/profile_predict.py``, ``benchmarks/results/profile-predict-cuda-h200.md``).
A CUDA graph records the kernels once for an input shape and replays them with one call.
Folders hold images of a few sizes, so :class:`GraphCache` keeps one graph per input shape,
captured the second time that shape is seen (a shape met once is not worth a capture), at
most ``max_graphs`` of them; other shapes run eagerly.

A graph writes into the same output buffer at every replay: the cache returns a copy, so a
result stays valid after the next call.  All graphs share one memory pool, so together they
hold about the memory of the largest one, not the sum: sharing is safe because replays never
overlap and each output is copied before any other graph runs (a later replay of another
graph may overwrite what an earlier one left in the pool, never what the caller holds).

Threads: the app predicts the canvas image while a folder is labelled, each on its own
thread, and two of its jobs may share one predictor.  Capturing and replaying hold one lock
per process, so a graph's buffers are never used by two threads at once and no capture
records another thread's work (it is made in thread-local capture mode besides).

If capturing fails (out of memory on a small GPU, an operation that cannot be captured), the
cache says why once in ``disabled`` and runs everything eagerly from then on.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import torch

_LOCK = threading.Lock()  # held while any GraphCache captures or replays


class GraphCache:
    """``fn(x) -> Tensor`` on CUDA tensors, replayed from a CUDA graph per input shape.

    Parameters
    ----------
    fn : a function of one CUDA tensor whose kernels depend only on the input's shape and
        dtype (no host synchronisation, no data-dependent control flow), returning a tensor.
    max_graphs : graphs kept at most (they share one memory pool, see the module notes).
    min_uses : a shape is captured the ``min_uses``-th time it is seen.

    Attributes
    ----------
    disabled : None, or why graphs are no longer used (then every call runs ``fn`` eagerly).
    """

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], max_graphs: int = 12,
                 min_uses: int = 2) -> None:
        self.fn = fn
        self.max_graphs = max_graphs
        self.min_uses = min_uses
        self.disabled: str | None = None
        self._seen: Counter = Counter()
        self._graphs: dict[tuple, tuple[torch.Tensor, torch.Tensor, torch.cuda.CUDAGraph]] = {}
        self._pool = None  # the memory pool all graphs share, made at the first capture

    @property
    def shapes(self) -> list[tuple]:
        """Input shapes (and dtypes) that have a graph."""
        return list(self._graphs)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``fn(x)``, from a replayed graph where there is one for ``x``'s shape."""
        if self.disabled is not None or x.device.type != "cuda":
            return self.fn(x)
        key = (tuple(x.shape), x.dtype, x.device)
        with _LOCK:
            entry = self._graphs.get(key)
            if entry is None:
                self._seen[key] += 1
                if self._seen[key] >= self.min_uses and len(self._graphs) < self.max_graphs:
                    entry = self._capture(x)
                if entry is not None:
                    self._graphs[key] = entry
            if entry is not None:
                static_in, static_out, graph = entry
                static_in.copy_(x)
                graph.replay()
                return static_out.clone()
        return self.fn(x)

    def _capture(self, x: torch.Tensor):
        static_in = x.clone()
        try:
            side = torch.cuda.Stream(x.device)
            side.wait_stream(torch.cuda.current_stream(x.device))
            with torch.cuda.stream(side):
                for _ in range(2):  # warm-up: lazy initialisation and cuDNN's choices
                    self.fn(static_in)
            torch.cuda.current_stream(x.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            if self._pool is None:
                self._pool = torch.cuda.graph_pool_handle()
            with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                static_out = self.fn(static_in)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
            self.disabled = f"CUDA graphs off: {type(exc).__name__}: {exc}".splitlines()[0]
            self._graphs.clear()
            torch.cuda.synchronize(x.device)
            torch.cuda.empty_cache()
            return None
        return static_in, static_out, graph
