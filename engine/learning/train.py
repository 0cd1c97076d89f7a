"""Learning a class from a few painted examples: TransferFSS + DistillFSS in one loop.

:func:`learn` is a generator: it yields :class:`LearnProgress` records (frozen, plain floats)
and returns the trained :class:`~engine.nn.model.SegModel`.  Stop iterating (or call ``close()``)
to cancel; nothing is left running.  The CLI loops over it with a progress bar; the GUI wraps
it in a worker thread.

What happens (method.md §4, with the deviations argued in the module docstrings):

1. Backbone features of every support image under ``total_views`` augmented views are
   computed once and cached (flips, rot90, scale/crop, colour jitter).
2. Teacher and student train jointly on episodes built from the supports only (leave-one-out,
   or paired when several classes), batched ``batch_episodes`` at a time, loss =
   (focal(teacher) + focal(student) + MSE(coarse maps)) / 3 + ``dice_weight`` · Dice, AdamW
   (``engine.learning.optim``: the same update as torch's, without importing torch._dynamo).
   Runs a fixed number of steps (``max_steps``, fewer only when the smoothed loss stops
   improving: deterministic either way), so the model a user gets does not depend on how
   busy the machine is: a loaded CPU stretches the ETA, not the result.  ``time_budget_s``
   is only a far safety net (reported in the metadata when it fires).  On CUDA,
   :class:`GpuSettings` replace the CPU-sized crop, view count, episode batches and step
   count (see :func:`effective_config`).
3. Leave-one-out estimate: for each support image, a fresh student trained for ``loo_steps``
   on the others (student-only, focal + Dice: a cheap proxy of the full objective) predicts
   it; IoU is accumulated over all held-out images.  Short folds on K-1 images make it a
   conservative estimate: it tends to *under*-estimate the final model.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, replace

import numpy as np
import torch

from engine import __version__
from engine.io.labels import ClassInfo, class_pixels, default_classes, is_sparse, num_classes
from engine.nn.device import choose_device, describe
from engine.nn.model import SegModel

from .checks import check_support_set
from .config import GpuSettings, LearnConfig, LearnProgress, effective_config
from .features import build_bank, to_working
from .loo import loo_estimate
from .propagate import stroke_growth
from .scale import object_scaled_size
from .steps import fit_steps
from .trees import fit_path


def learn(images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
          classes: Sequence[ClassInfo] | None = None,
          config: LearnConfig | None = None,
          start_from: SegModel | None = None) -> Generator[LearnProgress, None, SegModel]:
    """Learn the classes painted in ``masks`` from ``images``.

    Parameters
    ----------
    images : K arrays ``(H_k, W_k, 3) uint8`` RGB.
    masks : K arrays ``(H_k, W_k) uint8``, 0 = background, 1..N = class ids,
        :data:`engine.io.labels.NOT_PAINTED` (255) = not painted: ignored by every loss and by
        the teacher's attention (scribbles are examples; see :mod:`engine.io.labels`).
    classes : N :class:`ClassInfo` with ids 1..N (default: ``class1..classN`` from the masks).
    config : :class:`LearnConfig`.
    start_from : a model of the same classes and head to continue from (warm start: live
        updates and re-learning after corrections); its working scale and filter statistics
        are kept.  None: a fresh model.

    Yields
    ------
    LearnProgress, from the first second on.

    Returns
    -------
    SegModel, on CPU, in eval mode, with ``metadata`` (LOO IoU, settings, support hashes).

    Raises
    ------
    ValueError
        Empty support set, size mismatch, no foreground, or class ids beyond ``classes``.
    """
    classes = list(classes) if classes else default_classes(num_classes(masks))
    check_support_set(images, masks, classes)
    t0 = time.perf_counter()
    config = config or LearnConfig()
    device = choose_device(config.device)
    cfg = effective_config(config, device)
    if start_from is not None:
        _check_warm_start(start_from, classes, cfg)
        side = int(start_from.metadata.get("input_size", cfg.input_size))
        cfg = replace(cfg, input_size=side, crop=min(cfg.crop, side), object_scale=False)
    if cfg.object_scale:
        side = object_scaled_size(masks, cfg.input_size, cfg.crop)
        cfg = replace(cfg, input_size=side, crop=min(cfg.crop, side))
    # Before the model is built and moved (starting CUDA takes seconds): progress at once.
    yield LearnProgress("features", 0, cfg.total_views, float("nan"), time.perf_counter() - t0,
                        None, f"starting on {describe(device)}")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = SegModel(classes, cfg.head).to(device)
    if start_from is not None:
        model.load_state_dict(start_from.trainable_state(), strict=False)
    init_state = {k: v.clone() for k, v in model.trainable_state().items()}
    bank = None
    parts, part_masks, sides = images, masks, None
    if len(images) == 1 and cfg.split_single:
        halves = split_single_support(images[0], masks[0], cfg.input_size)
        if halves is not None:
            parts, part_masks = halves
            sides = [max(p.shape[:2]) for p in parts]
    for done, total, bank in build_bank(model, parts, part_masks, cfg.input_size, cfg.crop,
                                        cfg.total_views, rng, device, fg_bias=cfg.fg_bias,
                                        long_sides=sides, paste=cfg.paste,
                                        invert=cfg.invert, grow=stroke_growth(cfg)):
        yield LearnProgress("features", done, total, float("nan"), time.perf_counter() - t0,
                            None, f"features of view {done}/{total}")
    if bank.responses is not None and model.pixel is not None and start_from is None:
        model.pixel.set_statistics(bank.responses)  # the folds start from the same statistics
        init_state.update({k: v.clone() for k, v in model.trainable_state().items()
                           if k.startswith("pixel.filter_")})
    folds = None
    if model.pixel is not None and model.pixel.trees is not None:
        folds = yield from fit_path(model, bank, len(parts), cfg.seed, t0)
    # Per training image (the halves when one example was split; else the supports, which
    # is the only case the leave-one-out estimate below runs in).
    present = _presence(part_masks, len(classes))
    t_train = time.perf_counter()
    steps = yield from fit_steps(model, bank, list(range(len(parts))), present, cfg, rng, t0,
                            cfg.max_steps, cfg.time_budget_s)
    model.eval()
    cut = (cfg.time_budget_s is not None and steps < cfg.max_steps
           and time.perf_counter() - t_train >= cfg.time_budget_s)
    if cut:  # the safety net fired: this model depends on the machine's speed; say so
        yield LearnProgress("train", steps, cfg.max_steps, float("nan"),
                            time.perf_counter() - t0, None,
                            f"stopped by the {cfg.time_budget_s:.0f} s safety limit after "
                            f"{steps} of {cfg.max_steps} steps")
    loo: dict = {"stopped_by_time": True} if cut else {}
    if cfg.loo_steps > 0 and len(images) >= 2:
        model.metadata = _metadata(cfg, classes, images, masks, steps,
                                   time.perf_counter() - t0, {}, device)
        yield LearnProgress("trained", steps, steps, float("nan"), time.perf_counter() - t0,
                            None, "trained; estimating the IoU", model=model)
        loo.update((yield from loo_estimate(model, init_state, bank, images, masks, present,
                                            cfg, rng, t0, folds)))
    model.metadata = _metadata(cfg, classes, images, masks, steps, time.perf_counter() - t0,
                               loo, device)
    before = 0 if start_from is None else int(start_from.metadata.get(
        "total_steps", start_from.metadata.get("steps", 0)))
    model.metadata["total_steps"] = before + steps  # over the warm starts it continued
    return model.to("cpu").eval()


def _check_warm_start(start: SegModel, classes: Sequence[ClassInfo], cfg: LearnConfig) -> None:
    if [c.id for c in start.classes] != [c.id for c in classes]:
        raise ValueError("cannot continue from a model with other classes: learn afresh")
    if start.config != cfg.head:
        raise ValueError("cannot continue from a model with other settings: learn afresh")


def split_single_support(image: np.ndarray, mask: np.ndarray, long_side: int):
    """One support image -> two disjoint halves at working scale, or None.

    With a single example, episodes would pair two augmented views of the same pixels: the
    teacher then learns to copy the support mask and the student memorises one image.  Two
    halves cut across the long side, each holding foreground, give episodes whose query and
    support show *different* instances, as with two examples.  The cut lies where the
    foreground splits in two equal parts, kept within the middle half of the image; returns
    None when a half would have no foreground (then views of the whole image are used).
    Both halves are at working scale (long side of the whole image = ``long_side``).
    """
    img, msk = to_working(image, mask, long_side)
    axis = 0 if img.shape[0] >= img.shape[1] else 1
    length = img.shape[axis]
    fg = class_pixels(msk).sum(axis=1 - axis).cumsum()
    if fg[-1] == 0 or length < 64:
        return None
    cut = int(np.searchsorted(fg, fg[-1] / 2))
    cut = int(np.clip(cut, length // 4, length - length // 4))
    first = (slice(0, cut), slice(None)) if axis == 0 else (slice(None), slice(0, cut))
    second = (slice(cut, None), slice(None)) if axis == 0 else (slice(None), slice(cut, None))
    halves = [(np.ascontiguousarray(img[s]), np.ascontiguousarray(msk[s])) for s in (first, second)]
    if not all(class_pixels(m).any() for _, m in halves):
        return None
    return [h[0] for h in halves], [h[1] for h in halves]


def _presence(masks: Sequence[np.ndarray], n: int) -> np.ndarray:
    """``(K, N)`` bool: whether support k contains class n+1."""
    return np.array([[bool((m == c).any()) for c in range(1, n + 1)] for m in masks])


def _hash_pair(image: np.ndarray, mask: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(image).tobytes())
    h.update(np.ascontiguousarray(mask).tobytes())
    return h.hexdigest()[:16]


def _metadata(cfg: LearnConfig, classes, images, masks, steps: int, elapsed: float,
              loo: dict, device: torch.device) -> dict:
    long_sides = [max(im.shape[:2]) for im in images]
    settings = asdict(cfg)
    return {
        "engine_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "input_size": cfg.input_size,
        "reference_long_side": int(np.median(long_sides)),
        "train_settings": settings,
        "steps": steps,
        "train_seconds": round(elapsed, 2),
        "train_device": str(device),
        "support_hashes": [_hash_pair(im, m) for im, m in zip(images, masks)],
        "num_support": len(images),
        "scribbled_examples": sum(is_sparse(m) for m in masks),
        **loo,
    }


__all__ = ["GpuSettings", "LearnConfig", "LearnProgress", "effective_config", "learn",
           "split_single_support"]
