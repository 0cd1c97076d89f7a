"""Refine a learned model on the folder it labels: self-training on confident pseudo-labels.

After a model has labelled a folder, the folder's own unlabelled images carry information the
few examples do not: how the class looks across the whole set.  :func:`refine` predicts a
spread of those images, keeps only the pixels predicted confidently (``confidence`` or more:
class or background), marks every other pixel *not painted*, and continues learning from the
model (a warm start) on the examples plus these pseudo-labelled images.  The unconfident band
around each prediction is exactly what scribbles leave unpainted, so the sparse-label machinery
(losses and the teacher's attention skip unpainted pixels) carries the pseudo-labels without
a second code path.  The examples keep their own masks and stay in the set, so the person's
painting stays an anchor.

Opt-in (``distillfss learn --refine-on DIR``, the app's *Refine on folder*): the refined model
has seen the folder's images unlabelled, so an IoU measured on those images afterwards is not a
few-shot figure (``benchmarks/refine.py`` reports the gain apart).  The result depends only on
the inputs, the model and the seed, like :func:`engine.learning.train.learn`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.infer.predict import Predictor
from engine.io.labels import NOT_PAINTED
from engine.learning.config import LearnConfig, LearnProgress
from engine.learning.train import learn
from engine.nn.model import SegModel


@dataclass(frozen=True)
class RefineConfig:
    """Settings of :func:`refine`.

    confidence : pixels predicted with at least this probability (of their class, or of
        background) become pseudo-labels; the rest is left unpainted.
    max_images : unlabelled images used at most, evenly spread over the folder's order.
    steps : training steps of the continuation (the cosine schedule spans them).
    min_painted : a pseudo-labelled image is used only when at least this fraction of its
        pixels is confident (otherwise it says little and costs features).
    """

    confidence: float = 0.9
    max_images: int = 16
    steps: int = 80
    min_painted: float = 0.05


def pseudo_label(labels: np.ndarray, confidence: np.ndarray, threshold: float) -> np.ndarray:
    """Class ids where ``confidence >= threshold``, :data:`NOT_PAINTED` elsewhere (uint8)."""
    out = np.where(confidence >= threshold, labels, NOT_PAINTED)
    return out.astype(np.uint8)


def spread(n: int, k: int) -> list[int]:
    """``min(n, k)`` indices evenly spread over ``range(n)`` (deterministic, sorted)."""
    if k >= n:
        return list(range(n))
    return sorted({int(i) for i in np.linspace(0, n - 1, k).round()})


def refine(model: SegModel, images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
           unlabelled: Sequence[Callable[[], np.ndarray]],
           config: LearnConfig | None = None, settings: RefineConfig | None = None,
           ) -> Generator[LearnProgress, None, SegModel]:
    """Continue ``model`` on its examples plus confident pseudo-labels of ``unlabelled``.

    Parameters
    ----------
    model : the learned model (its classes and head are kept).
    images, masks : the examples it was learned from (masks as for ``learn``).
    unlabelled : loaders of the folder's other images (each returns ``(H, W, 3) uint8``); only
        :attr:`RefineConfig.max_images` of them, evenly spread, are read (one that raises
        ``OSError`` or ``ValueError`` is skipped and counted).
    config : learning settings (the model's own seed and device by default; the head and
        backbone are always the model's); steps, views and the leave-one-out estimate are set
        here, and the unpainted-background prior is off.

    Yields ``LearnProgress`` (phase 'pseudo' while predicting, then ``learn``'s records);
    returns the refined model with ``metadata["refine"]`` (images used, confident fraction).
    Raises ``ValueError`` when no unlabelled image gives confident pixels.
    """
    settings = settings or RefineConfig()
    if config is None:
        seed = int(model.metadata.get("train_settings", {}).get("seed", 0))
        config = LearnConfig(seed=seed)
    # Continue the model's own head and backbone.  The unpainted-background prior is for
    # scribbles; here the unpainted pixels are the ones the model was unsure of, where it
    # was never measured, so refining keeps the setting refine.md was measured with.
    config = replace(config, head=model.config, unpainted_bg=0.0)
    chosen = spread(len(unlabelled), settings.max_images)
    predictor = Predictor(model, config.device)
    extra_images, extra_masks, painted, unreadable = [], [], [], 0
    for n, i in enumerate(chosen):
        yield LearnProgress("pseudo", n, len(chosen), float("nan"), 0.0, None,
                            f"pseudo-labels of image {n + 1}/{len(chosen)}")
        try:
            image = unlabelled[i]()
        except (OSError, ValueError):  # a broken file in the folder: labelling reports it
            unreadable += 1
            continue
        pred = predictor.predict(image)
        mask = pseudo_label(pred.labels, pred.confidence, settings.confidence)
        fraction = float((mask != NOT_PAINTED).mean())
        if fraction >= settings.min_painted:
            extra_images.append(image)
            extra_masks.append(mask)
            painted.append(fraction)
    if not extra_images:
        raise ValueError("no unlabelled image was predicted confidently enough to learn from")
    del predictor
    all_images, all_masks = [*images, *extra_images], [*masks, *extra_masks]
    # No stroke pasting (engine.learning.paste): pseudo-labels are not strokes.  Their class
    # regions are whole predicted objects, with confident background up to a thin band
    # around them; pasting was measured on scribbles only.
    cfg = replace(config, max_steps=settings.steps, min_steps=settings.steps, loo_steps=0,
                  total_views=4 * len(all_images), time_budget_s=None, paste=0.0,
                  gpu=None if config.gpu is None else replace(
                      config.gpu, max_steps=settings.steps, loo_steps=0,
                      total_views=4 * len(all_images), time_budget_s=None))
    refined = yield from learn(all_images, all_masks, model.classes, cfg, start_from=model)
    refined.metadata["refine"] = {
        "images": len(extra_images), "examples": len(images), "confidence": settings.confidence,
        "steps": settings.steps, "painted_mean": float(np.mean(painted)),
        "unreadable": unreadable,
    }
    # What describes the examples (their hashes, the estimate, the scale of the images) stays
    # the model's: the pseudo-labelled images are not examples.
    for key, value in model.metadata.items():
        if key.startswith("loo_") or key in _EXAMPLE_KEYS:
            refined.metadata[key] = value
    return refined


_EXAMPLE_KEYS = ("support_hashes", "num_support", "support_files", "reference_long_side",
                 "scribbled_examples")
