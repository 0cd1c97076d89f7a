"""Inference with the student: backbone + ConvDist + shared head, no support images.

Images of any size: an image whose long side is at most ``2 x`` the supports' median long
side is resized so its long side is the model's input size (as in training); a larger one is
assumed to show a bigger field at the same pixel scale as the supports, so it is resized by
the supports' factor and processed in overlapping tiles (each output pixel comes from the
tile in which it is farthest from the border).  Outputs are at the image's own size.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from engine.io.labels import ClassInfo
from engine.io.resize import pad_to_multiple, resize_image, working_size
from engine.nn.device import autocast_dtype, choose_device
from engine.nn.head import upsample
from engine.nn.model import SegModel

from .graphs import GraphCache
from .staging import HostStaging, pins

UNSURE = 0.8  # confidence below this marks a pixel the model is unsure of (p in (0.2, 0.8))


@dataclass(frozen=True)
class Prediction:
    """``labels``: (H, W) uint8 class ids (0 = background); ``confidence``: (H, W) float32 in
    [0, 1], the probability of the predicted class."""

    labels: np.ndarray
    confidence: np.ndarray

    @property
    def mean_confidence(self) -> float:
        """Mean per-pixel confidence over the whole image."""
        return float(self.confidence.mean())

    @functools.cached_property
    def confidence_score(self) -> float:
        """How sure the model is of this image's labels, in [0.5, 1] (orders the review queue).

        The mean confidence over the pixels that decide the labels: those predicted as a class
        and those the model is unsure of (confidence < ``UNSURE``); 1.0 when there are none.
        A whole-image mean is dominated by easy background and hardly tells good predictions
        from bad ones: on the five benchmark sets (one 5-shot model each, seed 0,
        ``benchmarks/review_order.py``), the rank correlation of this score with each image's
        IoU is 0.08-0.79 against -0.13-0.32 for the whole-image mean, and the 10 lowest
        scores hold 1-6 of the 10 worst images against 0-3.
        """
        decisive = (self.labels > 0) | (self.confidence < UNSURE)
        n = np.count_nonzero(decisive)
        if n == 0:
            return 1.0
        # A dot product with the mask, not ``confidence[decisive].mean()``: ten times faster
        # on a CPU, where it runs for every labelled image (benchmarks/results/
        # engine-docstring-figures.md).
        weights = decisive.ravel().view(np.uint8).astype(np.float32)
        return float(np.dot(self.confidence.ravel(), weights)) / n


class Predictor:
    """Runs a learned model on images.

    Parameters
    ----------
    model : SegModel (from :func:`engine.learning.train.learn` or
        :func:`engine.nn.modelfile.load_model`).
        Moved to ``device``; on a CPU its conv weights become channels-last (same values).
    device : ``None``/"auto" (CUDA, MPS, CPU) or a torch device string.

    Attributes
    ----------
    model : the model that runs: on CUDA a bf16 (or fp16) copy of ``model``, else ``model``.
    finish_on_device : resize to the image's size and threshold on the device (default on a
        GPU) instead of with OpenCV on the host (default on a CPU); same arithmetic.
    graphs : on CUDA, the :class:`engine.infer.graphs.GraphCache` replaying the forward pass per
        batch shape (set ``graphs.disabled`` to a reason to run eagerly); None elsewhere.
    staging : on CUDA, the :class:`engine.infer.staging.HostStaging` whose pinned buffers
        :meth:`predict_batch` assembles batches in and copies them from without blocking;
        None elsewhere (the batch is stacked in ordinary memory).
    flip_average : average the probabilities over the image and its three mirror images
        (left-right, top-bottom, both), each mirrored back: 4x the network's work for
        better labels at several times the time per image on a CPU (``benchmarks/flip_average.py``;
        ``benchmarks/results/flip-average-cpu.md``, ``flip-average-cuda-h200.md``).
        Off by default; part of :attr:`model_id` when on.
    """

    def __init__(self, model: SegModel, device: str | None = None, *,
                 flip_average: bool = False) -> None:
        self.device = choose_device(device)
        self._flip_average = bool(flip_average)
        self._amp = autocast_dtype(self.device)
        self._source = model.to(self.device).match_layout(self.device).eval()
        # With mixed precision, a copy with low-precision weights runs: autocast would
        # otherwise cast every weight at every call (on an H200, 93 casts per image were a
        # third of the host time of a launch-bound prediction).  The model passed in keeps
        # its float32 weights (saving it, hashing it).
        self.model = (copy.deepcopy(model).to(dtype=self._amp) if self._amp is not None
                      else model)
        self.input_size = int(model.metadata.get("input_size", 384))
        self.reference_long_side = int(model.metadata.get("reference_long_side", self.input_size))
        self._model_id: str | None = None
        # Resizing to the image's size and thresholding run where the probabilities are: on
        # a GPU that saves copying float maps to the host and CPU time per image.
        self.finish_on_device = self.device.type != "cpu"
        # On CUDA the forward pass is replayed from CUDA graphs (engine.infer.graphs): launching
        # its ~225 kernels one by one is what bounds prediction there.
        self.graphs = (GraphCache(self._probs_on_device, max_graphs=12)
                       if self.device.type == "cuda" else None)
        self._forward = self.graphs if self.graphs is not None else self._probs_on_device
        self.staging = HostStaging(self.device) if pins(self.device) else None

    @classmethod
    def from_file(cls, path: str | os.PathLike, device: str | None = None, *,
                  flip_average: bool = False) -> Predictor:
        """Load a model file (see :mod:`engine.nn.modelfile`) and wrap it."""
        from engine.nn.modelfile import load_model

        return cls(load_model(path), device, flip_average=flip_average)

    @property
    def flip_average(self) -> bool:
        """Whether predictions average the four mirror images (fixed at construction)."""
        return self._flip_average

    @property
    def model_id(self) -> str:
        """Short hash of the weights, the classes and :attr:`flip_average` (when on): the
        outputs of predictors with the same id are the same (a resumed labelling run relies
        on it)."""
        if self._model_id is None:
            h = hashlib.sha256()
            for k, v in sorted(self._source.trainable_state().items()):
                h.update(k.encode())
                h.update(v.detach().float().cpu().numpy().tobytes())
            h.update(repr([(c.id, c.name) for c in self.classes]).encode())
            if self.flip_average:
                h.update(b"flip_average")
            self._model_id = h.hexdigest()[:16]
        return self._model_id

    @property
    def classes(self) -> list[ClassInfo]:
        """The model's foreground classes."""
        return self.model.classes

    def is_tiled(self, h: int, w: int) -> bool:
        """Whether an ``h x w`` image is processed in tiles."""
        return max(h, w) > 2 * self.reference_long_side

    def decode_long_side(self, h: int, w: int) -> int | None:
        """The long side an ``h x w`` image may be decoded at for :meth:`predict_batch` (see
        :func:`engine.io.images.read_image_reduced`): twice the working size it is shrunk to, or
        None when it is tiled (tiles need every pixel)."""
        return None if self.is_tiled(h, w) else 2 * self.input_size

    def predict(self, image: np.ndarray) -> Prediction:
        """``(H, W, 3) uint8`` -> :class:`Prediction` at ``(H, W)``."""
        return self.predict_batch([image])[0]

    def predict_batch(self, images: Sequence[np.ndarray],
                      sizes: Sequence[tuple[int, int]] | None = None) -> list[Prediction]:
        """Predict several ``(h, w, 3) uint8`` images; those with the same working size share
        one forward pass.

        ``sizes``: the ``(H, W)`` of each full image when ``images`` holds reduced copies
        (:func:`engine.io.images.read_image_reduced`, long side >= :meth:`decode_long_side`); the
        predictions are at that size.  Default: each image's own size.
        """
        out: list[Prediction | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        for im in images:
            check_image(im)
        images = [np.ascontiguousarray(im) for im in images]  # e.g. a flipped view
        if sizes is None:
            sizes = [im.shape[:2] for im in images]
        if len(sizes) != len(images):
            raise ValueError(f"{len(sizes)} sizes for {len(images)} images")
        sizes = [(int(s[0]), int(s[1])) for s in sizes]
        for i, im in enumerate(images):
            if self.is_tiled(*sizes[i]):
                if im.shape[:2] != sizes[i]:
                    raise ValueError("an image predicted in tiles must be given at full size")
                out[i] = self._predict_tiled(im)
            else:
                groups.setdefault(working_size(*sizes[i], self.input_size), []).append(i)
        # Every group is sent to the device before any is finished: on a GPU the host resizes
        # the next group while the device copies and computes the last one.
        launched = []
        for size, idx in groups.items():
            x = self._batch_on_device([images[i] for i in idx], size)
            launched.append((idx, self._run(x, len(idx))[:, :, : size[0], : size[1]]))
        for idx, probs in launched:
            if self.finish_on_device:
                for j, i in enumerate(idx):
                    out[i] = finish_probs_tensor(probs[j], sizes[i])
            else:
                probs = probs.cpu().numpy()
                for j, i in enumerate(idx):
                    out[i] = finish_probs(probs[j], sizes[i])
        return out  # type: ignore[return-value]

    def _batch_on_device(self, images: Sequence[np.ndarray], size: tuple[int, int]
                         ) -> torch.Tensor:
        """``images`` resized to ``size``, padded to multiples of 32, stacked on the device
        (through :attr:`staging` where there is one, with the rows :meth:`_rows` asks for)."""
        if self.staging is not None:
            return self.staging.stage(images, size, rows=self._rows(len(images)))
        batch = np.stack([pad_to_multiple(resize_image(im, size)) for im in images])
        return torch.from_numpy(batch).to(self.device)

    def _probs(self, batch: np.ndarray) -> np.ndarray:
        """:meth:`_probs_tensor` as a host array."""
        return self._probs_tensor(batch).cpu().numpy()

    @torch.no_grad()
    def _probs_tensor(self, batch: np.ndarray) -> torch.Tensor:
        """``(B, H, W, 3) uint8`` (multiples of 32) -> probabilities ``(B, P, H, W)`` float32,
        on the predictor's device.

        With one class P = 1: the foreground probability (see :func:`finish_probs`), computed as
        ``sigmoid(fg - bg)`` of the logit difference, which is what the softmax of the
        upsampled 2-channel logits gives, at half the upsampling and transfer cost.
        Otherwise P = 1 + N: the softmax over background and classes.
        """
        return self._run(torch.from_numpy(batch).to(self.device), batch.shape[0])

    def _rows(self, n: int) -> int:
        """The batch size ``n`` images run as: with CUDA graphs a batch of 3 runs as 4 (zeros
        after the images), so there is one graph per power of two instead of per batch size
        (labelling splits batches by working size), at no time cost on a GPU whose
        prediction is bound by the host."""
        if self.graphs is not None and self.graphs.disabled is None and n & (n - 1):
            return 1 << n.bit_length()
        return n

    @torch.no_grad()
    def _run(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """Probabilities of the first ``n`` images of ``x`` (on the device), padded with
        zero images up to :meth:`_rows` if it is short of them."""
        rows = self._rows(n)
        if x.shape[0] < rows:
            x = torch.cat([x, x.new_zeros((rows - x.shape[0], *x.shape[1:]))])
        return self._forward(x)[:n]

    def _probs_on_device(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`_probs_tensor` of ``(B, H, W, 3) uint8`` already on the device (what a
        CUDA graph records: no host copies or synchronisation in here)."""
        x = x.permute(0, 3, 1, 2)
        if not self.flip_average:
            return self._probs_nchw(x)
        # The four mirror images in one batch; each output mirrored back, then averaged.
        # The padding (bottom and right) moves with the image and back: exact alignment.
        n = x.shape[0]
        p = self._probs_nchw(torch.cat([x, x.flip(3), x.flip(2), x.flip(2, 3)])).split(n)
        return (p[0] + p[1].flip(3) + p[2].flip(2) + p[3].flip(2, 3)) / 4

    def _probs_nchw(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities of ``(B, 3, H, W) uint8`` images (see :meth:`_probs_tensor`)."""
        size = tuple(x.shape[-2:])
        # No autocast weight cache: a graph must not record casts of tensors it may free.
        with torch.autocast(self.device.type, dtype=self._amp, enabled=self._amp is not None,
                            cache_enabled=False):
            logits = self.model.student_logits(x, full_size=False).float()
        if logits.shape[1] == 2:
            diff = logits[:, 1:] - logits[:, :1]
            return torch.sigmoid(upsample(diff, size))
        return upsample(logits, size).softmax(1)

    def _predict_tiled(self, image: np.ndarray) -> Prediction:
        h, w = image.shape[:2]
        scale = self.input_size / self.reference_long_side
        sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
        small = resize_image(image, (sh, sw))
        tile = self.input_size
        margin = tile // 8
        labels = np.zeros((h, w), np.uint8)
        conf = np.zeros((h, w), np.float32)
        for y0, y1, ky0, ky1 in _tile_spans(sh, tile, margin):
            for x0, x1, kx0, kx1 in _tile_spans(sw, tile, margin):
                crop = pad_to_multiple(small[y0:y1, x0:x1])
                probs = self._probs(crop[None])[0][:, ky0 - y0: ky1 - y0, kx0 - x0: kx1 - x0]
                oy0, oy1 = round(ky0 / scale), min(h, round(ky1 / scale))
                ox0, ox1 = round(kx0 / scale), min(w, round(kx1 / scale))
                if oy1 > oy0 and ox1 > ox0:
                    p = finish_probs(probs, (oy1 - oy0, ox1 - ox0))
                    labels[oy0:oy1, ox0:ox1] = p.labels
                    conf[oy0:oy1, ox0:ox1] = p.confidence
        return Prediction(labels, conf)


def _tile_spans(length: int, tile: int, margin: int):
    """Tiles along one axis: (start, end, keep_start, keep_end), keep spans covering 0..length."""
    if length <= tile:
        yield 0, length, 0, length
        return
    step = tile - 2 * margin
    starts = list(range(0, length - tile, step)) + [length - tile]
    keep_start = 0
    for i, s in enumerate(starts):
        last = i == len(starts) - 1
        keep_end = length if last else min(s + tile - margin, starts[i + 1] + margin)
        yield s, s + tile, keep_start, keep_end
        keep_start = keep_end


def finish_probs(probs: np.ndarray, size: tuple[int, int]) -> Prediction:
    """Probabilities -> labels and confidence resized to ``size`` = (H, W).

    ``probs``: ``(1+N, h, w)`` per-class probabilities, or ``(1, h, w)`` the foreground
    probability of a single class (labels = p > 0.5, confidence = max(p, 1 - p)).
    """
    h, w = size
    if probs.shape[0] == 1:
        p = probs[0]
        if p.shape != (h, w):
            p = cv2.resize(np.ascontiguousarray(p), (w, h), interpolation=cv2.INTER_LINEAR)
        fg = p > 0.5
        return Prediction(fg.astype(np.uint8), np.where(fg, p, 1 - p).astype(np.float32))
    if probs.shape[1:] != (h, w):
        chans = [cv2.resize(np.ascontiguousarray(p), (w, h), interpolation=cv2.INTER_LINEAR)
                 for p in probs]
        probs = np.stack(chans)
    return Prediction(probs.argmax(0).astype(np.uint8), probs.max(0).astype(np.float32))


@torch.no_grad()
def finish_probs_tensor(probs: torch.Tensor, size: tuple[int, int]) -> Prediction:
    """:func:`finish_probs` on the probabilities' own device (the same bilinear resize as OpenCV's
    ``INTER_LINEAR``: half-pixel centres, no antialiasing); only the results are copied."""
    if tuple(probs.shape[1:]) != tuple(size):
        probs = F.interpolate(probs[None], size=size, mode="bilinear", align_corners=False)[0]
    if probs.shape[0] == 1:
        p = probs[0]
        fg = p > 0.5
        labels, conf = fg.to(torch.uint8), torch.where(fg, p, 1 - p)
    else:
        conf, labels = probs.max(0)
        labels = labels.to(torch.uint8)
    return Prediction(labels.cpu().numpy(), conf.float().cpu().numpy())


def check_image(image: np.ndarray) -> None:
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3
            and image.dtype == np.uint8):
        raise ValueError("expected an (H, W, 3) uint8 RGB image, got "
                         f"{getattr(image, 'shape', None)} {getattr(image, 'dtype', None)}")
