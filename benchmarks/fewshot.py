"""The teacher used as a few-shot segmenter (with support images), for evaluation and speed
comparisons: query and supports are resized to a square ``size`` x ``size`` (as in the paper),
support features are computed once, then each query attends over all K supports."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engine.infer.predict import Prediction, check_image, finish_probs
from engine.io.resize import resize_image, resize_mask
from engine.nn.device import choose_device
from engine.nn.model import SegModel


class TeacherPredictor:
    """Few-shot prediction with the (fine-tuned) teacher and K support images.

    Parameters
    ----------
    model : SegModel
    images, masks : K ``(H, W, 3) uint8`` images and ``(H, W) uint8`` label maps.
    size : square side the teacher runs at (default: the model's input size).
    """

    def __init__(self, model: SegModel, images: Sequence[np.ndarray],
                 masks: Sequence[np.ndarray], size: int | None = None,
                 device: str | None = None) -> None:
        self.device = choose_device(device)
        self.model = model.to(self.device).eval()
        self.size = int(size or model.metadata.get("input_size", 384))
        sq = (self.size, self.size)
        x = torch.from_numpy(np.stack([resize_image(im, sq) for im in images]))
        with torch.no_grad():
            feats = [self.model.features(chunk.permute(0, 3, 1, 2).to(self.device))
                     for chunk in x.split(8)]
        self.support_feats = [torch.cat([f[t] for f in feats])[None] for t in range(len(feats[0]))]
        classes = np.arange(1, model.num_classes + 1).reshape(-1, 1, 1)
        onehot = np.stack([(resize_mask(m, sq)[None] == classes) for m in masks])
        self.support_masks = torch.from_numpy(onehot.astype(np.float32))[None].to(self.device)

    @torch.no_grad()
    def predict(self, image: np.ndarray) -> Prediction:
        """``(H, W, 3) uint8`` -> :class:`Prediction` at ``(H, W)``."""
        check_image(image)
        sq = (self.size, self.size)
        x = torch.from_numpy(resize_image(image, sq)).permute(2, 0, 1)[None].to(self.device)
        fq = self.model.features(x)
        coarse = self.model.teacher_coarse(fq, self.support_feats, self.support_masks)
        extra = self.model.pixel_logits(self.model.pixel_responses(x), fq)
        logits = self.model.decode(coarse, fq, sq, extra)
        return finish_probs(logits[0].float().softmax(0).cpu().numpy(), image.shape[:2])
