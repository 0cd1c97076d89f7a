"""GraphCache off CUDA: it never captures and returns the function's own result."""

from __future__ import annotations

import torch

from engine.infer.graphs import GraphCache


def test_graph_cache_runs_eagerly_off_cuda():
    calls = []

    def fn(x):
        calls.append(x.shape)
        return x * 2

    cache = GraphCache(fn, min_uses=1)
    x = torch.arange(6.0).view(2, 3)
    for _ in range(3):
        torch.testing.assert_close(cache(x), x * 2)
    assert cache.shapes == [] and len(calls) == 3
