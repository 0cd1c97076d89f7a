"""Cached backbone features of the support set: every augmented view computed once."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.io.labels import NOT_PAINTED, is_sparse
from engine.io.resize import pad_to_multiple, resize_image, resize_mask, working_size
from engine.nn.model import SegModel

from .augment import augmented_view, plain_view
from .paste import paste_strokes, stroke_pieces


@dataclass
class FeatureBank:
    """Features of V training views.

    ``feats``: per tap ``(V, C, h, w)``; ``labels``: ``(V, H, W)`` long; ``image_of_view``:
    ``(V,)`` index of the support image each view came from; ``responses``: filter-bank
    responses ``(V, 45, H/2, W/2)`` of the pixel paths (None for a model without them);
    ``tree_probs``: out-of-fold forest probabilities ``(V, 1 + N, H/4, W/4)`` of the trees path
    (:mod:`engine.learning.trees`; None without it).
    """

    feats: list[torch.Tensor]
    labels: torch.Tensor
    image_of_view: np.ndarray
    responses: torch.Tensor | None = None
    views: torch.Tensor | None = None
    tree_probs: torch.Tensor | None = None
    _sparse: bool | None = field(default=None, repr=False)

    @property
    def sparse(self) -> bool:
        """True when some view has unpainted pixels (:data:`engine.io.labels.NOT_PAINTED`)."""
        if self._sparse is None:
            self._sparse = bool((self.labels == NOT_PAINTED).any())
        return self._sparse

    def views_of(self, images: Sequence[int]) -> np.ndarray:
        """Indices of the views that come from the given support images."""
        return np.flatnonzero(np.isin(self.image_of_view, list(images)))


def to_working(image: np.ndarray, mask: np.ndarray | None, long_side: int):
    """Resize an image (and its mask) so its long side is ``long_side``."""
    size = working_size(image.shape[0], image.shape[1], long_side)
    return resize_image(image, size), (resize_mask(mask, size) if mask is not None else None)


def views_per_image(k: int, total: int) -> int:
    """How many views to cache per support image for ``total`` views overall."""
    return int(min(16, max(4, math.ceil(total / k))))


def build_bank(model: SegModel, images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
               long_side: int, crop: int, total_views: int, rng: np.random.Generator,
               device: torch.device, chunk: int = 8, fg_bias: float = 0.5,
               long_sides: Sequence[int] | None = None, paste: float = 0.0,
               invert: float = 0.0,
               grow: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
               ) -> Iterator[tuple[int, int, FeatureBank | None]]:
    """Compute the features of all views; yields ``(done, total, bank or None)``.

    View 0 of each image is un-augmented; the others are random (see ``augmented_view``;
    ``fg_bias``: the chance that a view is centred on a foreground pixel).  ``long_sides``:
    per image, the long side to resize it to (default ``long_side`` for all; images that
    are already at working scale pass their own long side).  ``paste``: the chance that an
    augmented view of a scribbled example gets class strokes pasted onto its background
    strokes first (:mod:`engine.learning.paste`; complete masks never do).  ``invert``: the
    chance that an augmented view's intensities are inverted.  ``grow``: ``(image, mask) ->
    mask`` applied to each working-scale example first, e.g. strokes grown over superpixels
    (:func:`engine.learning.propagate.propagate_strokes`; None = off).
    The last yield carries the finished bank.
    """
    n_views = views_per_image(len(images), total_views)
    sides = list(long_sides) if long_sides is not None else [long_side] * len(images)
    work = [to_working(im, m, side) for im, m, side in zip(images, masks, sides)]
    if grow is not None:
        work = [(im, grow(im, m)) for im, m in work]
    jobs = [(i, v) for i in range(len(images)) for v in range(n_views)]
    # Each example's views get its own strokes: the leave-one-out folds, which train on
    # the other examples' views, then never see a held-out example's pixels.
    pieces = [stroke_pieces(im, m) if paste > 0 and is_sparse(m) else [] for im, m in work]
    feats: list[list[torch.Tensor]] = []
    labels, owners, responses, views = [], [], [], []
    for start in range(0, len(jobs), chunk):
        batch_img = []
        for i, v in jobs[start:start + chunk]:
            im, m = work[i]
            if v > 0 and pieces[i] and rng.random() < paste:
                im, m = paste_strokes(im, m, pieces[i], rng)
            img, lab = plain_view(im, m, crop) if v == 0 else augmented_view(
                im, m, crop, rng, fg_bias=fg_bias, invert=invert)
            batch_img.append(img)
            labels.append(torch.from_numpy(lab.astype(np.int64)))
            owners.append(i)
        x = torch.from_numpy(np.stack(batch_img)).permute(0, 3, 1, 2).to(device)
        views.append(x)
        feats.append([f.float() for f in model.features(x)])
        r = model.pixel_responses(x)
        if r is not None:
            responses.append(r.float())
        done = min(start + chunk, len(jobs))
        yield done, len(jobs), None
    taps = [torch.cat([f[t] for f in feats]) for t in range(len(feats[0]))]
    yield len(jobs), len(jobs), FeatureBank(taps, torch.stack(labels).to(device), np.array(owners),
                                            torch.cat(responses) if responses else None,
                                            torch.cat(views))


def full_view_tensor(image: np.ndarray, long_side: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Working-scale, 32-padded ``(1, 3, H', W')`` uint8 tensor and the unpadded size."""
    work, _ = to_working(image, None, long_side)
    padded = pad_to_multiple(work)
    return torch.from_numpy(padded).permute(2, 0, 1)[None].contiguous(), work.shape[:2]
