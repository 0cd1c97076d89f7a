"""A forest of decision trees on the filter bank, evaluated in torch: the *trees* pixel path.

On some draws a random forest on ilastik-style filters beats everything the network learns
from the same examples (nuclei: 73.6 against 61.8, ``accuracy-k5-5seeds-pixel-paths.md``), and
a small MLP on the same filters, trained on the same pixels, did not reach it (63-65): the
gap is the model type (axis-aligned splits of heavy-tailed responses), not training.  So the
model contains a forest.  It is fitted by :mod:`engine.learning.trees` (scikit-learn) and
kept here as plain tensors (buffers, saved in the model file like any weight; no pickled
estimator), so prediction runs on any device, next to the backbone, with no scikit-learn.

Layout: ``T`` trees padded to ``M`` nodes each.  ``feature``/``threshold`` ``(T, M)`` (the
thresholds kept as their float32 bits, see ``__init__``): a pixel goes to child
``child[t, m, 1]`` when its response ``feature`` is above ``threshold``, else to
``child[t, m, 0]`` (scikit-learn's rule); a leaf is its own child, so every pixel walks
``depth`` steps.  ``value`` ``(T, M, C)``: class fractions of a leaf.
"""

from __future__ import annotations

import torch
from torch import nn

CHUNK = 1 << 16  # pixels per traversal batch (bounds the (T, pixels) index tensors)


class TreeEnsemble(nn.Module):
    """Averaged class probabilities of a forest; empty (uniform output) until :meth:`set`."""

    def __init__(self, num_outputs: int) -> None:
        super().__init__()
        self.num_outputs = num_outputs
        self.register_buffer("feature", torch.zeros(0, 1, dtype=torch.int32))
        # float32 thresholds stored as their int32 bits: ``model.to(bfloat16)`` (the GPU
        # predictor's copy) must not round them (it casts only floating-point buffers).
        self.register_buffer("threshold_bits", torch.zeros(0, 1, dtype=torch.int32))
        self.register_buffer("child", torch.zeros(0, 1, 2, dtype=torch.int32))
        self.register_buffer("value", torch.zeros(0, 1, num_outputs))
        self.register_buffer("levels", torch.zeros((), dtype=torch.int32))
        self._depth = 0  # = levels, kept on the host: no device sync per forward (CUDA graphs)

    @property
    def fitted(self) -> bool:
        """Whether the ensemble holds trees."""
        return self.feature.shape[0] > 0

    @property
    def depth(self) -> int:
        """Steps a pixel takes from the root (the deepest tree's depth)."""
        return self._depth if self.fitted else 0

    def set(self, feature: torch.Tensor, threshold: torch.Tensor, children: torch.Tensor,
            value: torch.Tensor, depth: int) -> None:
        """Replace the trees (tensors as in the module docstring, on any device; ``depth``:
        the deepest tree's)."""
        dev = self.feature.device
        self.levels = torch.tensor(depth, dtype=torch.int32, device=dev)
        self._depth = int(depth)
        self.feature = feature.to(dev, torch.int32).contiguous()
        self.threshold_bits = threshold.to(dev, torch.float32).contiguous().view(torch.int32)
        self.child = children.to(dev, torch.int32).contiguous()
        self.value = value.to(dev, torch.float32).contiguous()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The trees' size comes from the file: take its shapes before the usual copy.
        for name in ("feature", "threshold_bits", "child", "value"):
            t = state_dict.get(prefix + name)
            if t is not None:
                setattr(self, name, torch.empty_like(t, device=self.feature.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        levels = state_dict.get(prefix + "levels")
        if levels is not None:
            self._depth = int(levels)

    @torch.no_grad()
    def forward(self, responses: torch.Tensor) -> torch.Tensor:
        """``(B, F, h, w)`` responses -> ``(B, C, h, w)`` float32 class probabilities."""
        b, _, h, w = responses.shape
        if not self.fitted:
            return responses.new_full((b, self.num_outputs, h, w), 1 / self.num_outputs,
                                      dtype=torch.float32)
        x = responses.float().permute(0, 2, 3, 1).reshape(b * h * w, -1)
        out = torch.cat([self._walk(x[i:i + CHUNK]) for i in range(0, x.shape[0], CHUNK)])
        return out.view(b, h, w, -1).permute(0, 3, 1, 2)

    def _walk(self, x: torch.Tensor) -> torch.Tensor:
        """``(P, F)`` -> ``(P, C)`` mean leaf fractions over the trees."""
        t, m = self.feature.shape
        p = x.shape[0]
        # Responses feature-major and flat: pixel i's response f is at f * P + i (one take
        # per level; a gather on the (T, P, F) expanded input was twice as slow).
        flat = x.T.contiguous().view(-1)
        offset = self.feature.long() * p
        threshold = self.threshold_bits.view(torch.float32)
        children = self.child.long().view(t, 2 * m)
        pixel = torch.arange(p, device=x.device)
        node = torch.zeros(t, p, dtype=torch.long, device=x.device)
        for _ in range(self.depth):
            v = flat.take(offset.gather(1, node) + pixel)
            right = (v > threshold.gather(1, node)).long()
            node = children.gather(1, node * 2 + right)
        c = self.value.shape[-1]
        leaf = self.value.float().gather(1, node.unsqueeze(-1).expand(-1, -1, c))
        return leaf.mean(0)
