"""Simple baselines: masked-average prototype and linear probe on the frozen Lite0 features,
and a random forest on the filter bank (what ilastik does).

Deep features: the last taps at strides 4, 8, 16 and 32 (24 + 40 + 112 + 320 channels)
resampled to stride 4 and concatenated, L2-normalised per pixel for the prototype.
Filters: :class:`engine.nn.pixel.FilterBank` (Gaussian, LoG, gradient magnitude, Hessian and
structure-tensor eigenvalues, sigma 0.7-10; 45 channels at stride 2) of the image at the
same working size.
"""

from __future__ import annotations

import common  # noqa: F401 - first: puts this checkout's engine ahead of an installed one
import numpy as np
import torch
from torch.nn import functional as F

from engine.infer.predict import finish_probs
from engine.io.labels import NOT_PAINTED
from engine.io.resize import pad_to_multiple, resize_image, resize_mask, working_size
from engine.learning.config import LearnConfig
from engine.nn.backbones import build_backbone

TAPS = (2, 4, 10, 15)  # Lite0: last tap of strides 4, 8, 16, 32


class FeatureExtractor:
    """Dense stride-4 features of an image at the working scale."""

    def __init__(self, input_size: int = LearnConfig.input_size) -> None:
        self.backbone = build_backbone("efficientnet_lite0")
        self.input_size = input_size

    @torch.no_grad()
    def __call__(self, image: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
        size = working_size(*image.shape[:2], self.input_size)
        x = torch.from_numpy(pad_to_multiple(resize_image(image, size))).permute(2, 0, 1)[None]
        taps = self.backbone(self.backbone.normalize(x))
        base = taps[TAPS[0]].shape[-2:]
        feats = [F.interpolate(taps[i], size=base, mode="bilinear", align_corners=False)
                 for i in TAPS]
        return torch.cat(feats, 1)[0], size  # (C, h, w)


def _mask_at(mask: np.ndarray, size, shape) -> torch.Tensor:
    m = resize_image(np.repeat(mask[..., None] * 255, 3, 2).astype(np.uint8), size)[..., 0]
    m = pad_to_multiple(m)
    t = torch.from_numpy((m > 127).astype(np.float32))[None, None]
    return F.interpolate(t, size=shape, mode="area")[0, 0]


def _to_prediction(prob_fg: torch.Tensor, size, out_shape) -> np.ndarray:
    p = F.interpolate(prob_fg[None, None], scale_factor=4, mode="bilinear")[0, 0]
    p = p[: size[0], : size[1]].numpy()
    return finish_probs(np.stack([1 - p, p]), out_shape).labels


class Prototype:
    """Cosine similarity to the masked-average fg and bg prototypes."""

    def __init__(self, fx: FeatureExtractor, images, masks) -> None:
        fg, bg = 0, 0
        for im, m in zip(images, masks):
            f, size = fx(im)
            w = _mask_at(m, size, f.shape[-2:])
            f = F.normalize(f, dim=0)
            fg = fg + (f * w).sum((1, 2))
            bg = bg + (f * (1 - w)).sum((1, 2))
        self.fx, self.protos = fx, F.normalize(torch.stack([bg, fg]), dim=1)

    def predict(self, image: np.ndarray) -> np.ndarray:
        f, size = self.fx(image)
        sim = torch.einsum("kc,chw->khw", self.protos, F.normalize(f, dim=0))
        return _to_prediction((sim * 20).softmax(0)[1], size, image.shape[:2])


class LinearProbe:
    """Per-pixel logistic regression (class-balanced) on the frozen features."""

    def __init__(self, fx: FeatureExtractor, images, masks, steps: int = 300) -> None:
        xs, ys = [], []
        for im, m in zip(images, masks):
            f, size = fx(im)
            w = _mask_at(m, size, f.shape[-2:])
            xs.append(f.flatten(1).T)
            ys.append((w.flatten() > 0.5).float())
        x, y = torch.cat(xs), torch.cat(ys)
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6
        x = (x - self.mean) / self.std
        pos = y.mean().clamp(1e-4, 1 - 1e-4)
        self.lin = torch.nn.Linear(x.shape[1], 1)
        opt = torch.optim.Adam(self.lin.parameters(), lr=0.01)
        weight = torch.where(y > 0, 0.5 / pos, 0.5 / (1 - pos))
        for _ in range(steps):
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(self.lin(x)[:, 0], y, weight=weight)
            loss.backward()
            opt.step()
        self.fx = fx

    @torch.no_grad()
    def predict(self, image: np.ndarray) -> np.ndarray:
        f, size = self.fx(image)
        x = (f.flatten(1).T - self.mean) / self.std
        p = torch.sigmoid(self.lin(x)[:, 0]).view(f.shape[-2:])
        return _to_prediction(p, size, image.shape[:2])


class FilterForest:
    """Random forest (100 trees) on filter-bank responses of sampled support pixels (only
    the painted ones when a mask has :data:`~engine.io.labels.NOT_PAINTED` pixels: scribbles,
    the way ilastik is trained)."""

    def __init__(self, images, masks, input_size: int = LearnConfig.input_size,
                 per_image: int = 20_000, seed: int = 0) -> None:
        from sklearn.ensemble import RandomForestClassifier

        from engine.nn.pixel import FilterBank

        self.bank, self.input_size = FilterBank(), input_size
        rng = np.random.default_rng(seed)
        xs, ys = [], []
        for im, m in zip(images, masks):
            f, size = self._responses(im)
            x = f.flatten(1).T.numpy()
            if (m == NOT_PAINTED).any():  # scribbles: train on the painted pixels only
                grid = pad_to_multiple(resize_mask(m, size))[::2, ::2].flatten()
                painted = np.flatnonzero(grid != NOT_PAINTED)
                y = grid == 1
                keep = rng.choice(painted, size=min(per_image, painted.size), replace=False)
                xs.append(x[keep])
                ys.append(y[keep])
                continue
            y = _mask_at(m, size, f.shape[-2:]).flatten().numpy() > 0.5
            keep = rng.choice(len(x), size=min(per_image, len(x)), replace=False)
            xs.append(x[keep])
            ys.append(y[keep])
        self.forest = RandomForestClassifier(100, n_jobs=-1, random_state=seed)
        self.forest.fit(np.concatenate(xs), np.concatenate(ys))

    @torch.no_grad()
    def _responses(self, image: np.ndarray):
        size = working_size(*image.shape[:2], self.input_size)
        x = torch.from_numpy(pad_to_multiple(resize_image(image, size))).permute(2, 0, 1)[None]
        return self.bank(x)[0], size

    def predict(self, image: np.ndarray) -> np.ndarray:
        f, size = self._responses(image)
        p = self.forest.predict_proba(f.flatten(1).T.numpy())
        fg = p[:, 1] if p.shape[1] > 1 else np.zeros(len(p))
        fg = torch.from_numpy(fg.astype(np.float32)).view(f.shape[-2:])
        up = F.interpolate(fg[None, None], scale_factor=2, mode="bilinear")[0, 0]
        up = up[: size[0], : size[1]].numpy()
        return finish_probs(np.stack([1 - up, up]), image.shape[:2]).labels
