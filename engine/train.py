"""Learning a class from a few painted examples: TransferFSS + DistillFSS in one loop.

:func:`learn` is a generator: it yields :class:`LearnProgress` records (frozen, plain floats)
and returns the trained :class:`~engine.model.SegModel`.  Stop iterating (or call ``close()``)
to cancel; nothing is left running.  The CLI loops over it with a progress bar; the GUI wraps
it in a worker thread.

What happens (method.md §4, with the deviations argued in the module docstrings):

1. Backbone features of every support image under ``total_views`` augmented views are
   computed once and cached (flips, rot90, scale/crop, colour jitter).
2. Teacher and student train jointly on episodes built from the supports only (leave-one-out,
   or paired when several classes), batched ``batch_episodes`` at a time, loss =
   (focal(teacher) + focal(student) + MSE(coarse maps)) / 3 + ``dice_weight`` · Dice, AdamW
   (``engine.optim``: the same update as torch's, without importing torch._dynamo).
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
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Generator, Sequence

import numpy as np
import torch

from . import __version__
from .device import autocast_dtype, choose_device, describe
from .episodes import gather, query_responses, query_views, sample_episodes, support_painted
from .features import FeatureBank, build_bank, to_working
from .head import merge_binary_logits, upsample
from .labels import NOT_PAINTED, class_pixels, num_classes
from .losses import affinity_loss, coarse_mse, dice_loss, focal_loss
from .model import ClassInfo, HeadConfig, SegModel, default_classes, trainable_parameters
from .optim import AdamW
from .pixel import combine
from .scale import object_scaled_size
from .validate import check_support_set, loo_estimate


@dataclass(frozen=True)
class GpuSettings:
    """Settings that replace :class:`LearnConfig`'s when learning runs on a CUDA GPU.

    The head is small: on a GPU a training step is launch-bound (measured on an H100: 47-70
    ms per step of 4 episodes in bf16 with a per-parameter optimizer; 30-40 ms per step of 16
    episodes of 320 px crops in fp32 with the multi-tensor one), so a GPU step takes 16
    episodes of larger crops (more context: 320 px crops gave polyps +6 and tiles +5 IoU
    points over 192 px on one draw), over more cached views.
    ``max_steps`` is about what an H200 ran in the former 5 s budget (157-195 steps,
    ``benchmarks/results/learn-phases-cuda-h200.md``; target: learn 5 shots in < 10 s on a
    GPU, leave-one-out estimate included); ``time_budget_s`` is only a safety net.  Apple MPS
    keeps the CPU settings: nothing was measured there, and its GPUs are far smaller.
    """

    crop: int = 320
    total_views: int = 80
    batch_episodes: int = 16
    loo_batch: int = 16
    loo_steps: int = 20
    max_steps: int = 160
    time_budget_s: float | None = 60.0


@dataclass(frozen=True)
class LearnConfig:
    """Settings of :func:`learn` (all optional; defaults target < 60 s for 5 shots on 2 CPU cores).

    input_size : long side (px) images are resized to before the backbone.
    crop : side of the square training views.
    total_views : augmented views cached over the whole support set.
    fg_bias : chance that a view's crop is centred on a foreground pixel (else uniform).
        Kept low: crops centred on the class teach a foreground prior far above a whole
        image's, and the model then over-segments (measured: 2-3x the true area on polyps;
        0.5 -> 0.2 gave nuclei +8, polyps +2 IoU points, cracks/weeds unchanged, tiles -2).
    split_single : with one support image, train on two disjoint halves of it (see
        :func:`split_single_support`).
    object_scale : shrink ``input_size`` (to 2/3 at most) when the painted objects are large
        next to a training crop (see :func:`engine.scale.object_scaled_size`).
    lr, lr_floor : peak learning rate; cosine decay to ``lr * lr_floor`` over the run.
    max_steps : optimiser steps (the cosine schedule spans them); the model depends on the
        seed and the settings only, never on the machine's load.
    time_budget_s : a far safety net in seconds (``None`` = none): a run cut by it is
        reported (``metadata["stopped_by_time"]``) because its model then depends on speed.
    patience : steps without improvement of the smoothed loss before early stopping.
    batch_episodes, shots_per_episode : episodes per optimiser step; supports per episode.
    loo_steps, loo_batch : steps and episodes per step of each leave-one-out fold (0 steps
        disables the estimate).
    aux_weight : weight of the auxiliary loss (focal + Dice) on each pixel path alone
        (``engine.pixel``), which makes each path a classifier in its own right.
    affinity_weight : weight of :func:`engine.losses.affinity_loss` on the student's logits,
        only when some example has unpainted pixels (scribbles); complete masks never use it.
    mixed_precision : bf16/fp16 autocast in training steps on a GPU.  Off by default: the
        small head is launch-bound there, so autocast saves no time and adds cast kernels,
        and fp32 rules out low-precision attention scores as a cause of lost accuracy (not
        measured apart from the other GPU settings).
    gpu : :class:`GpuSettings` used instead of the matching fields on CUDA; ``None`` = use
        the fields above on every device.
    """

    input_size: int = 384
    crop: int = 192
    total_views: int = 40
    fg_bias: float = 0.2
    max_steps: int = 150
    time_budget_s: float | None = 600.0
    min_steps: int = 60
    patience: int = 100
    batch_episodes: int = 4
    shots_per_episode: int = 1
    split_single: bool = True
    object_scale: bool = True
    lr: float = 2e-3
    lr_floor: float = 0.05
    weight_decay: float = 0.01
    dice_weight: float = 0.5
    aux_weight: float = 0.5
    affinity_weight: float = 1.0
    loo_steps: int = 40
    loo_batch: int = 4
    seed: int = 0
    device: str | None = None
    mixed_precision: bool = False
    gpu: GpuSettings | None = field(default_factory=GpuSettings)
    head: HeadConfig = field(default_factory=HeadConfig)


def effective_config(cfg: LearnConfig, device: torch.device) -> LearnConfig:
    """The settings :func:`learn` uses on ``device``: ``cfg.gpu`` applied on CUDA, crops no
    larger than the input; ``gpu`` is then None (what the model file records)."""
    if device.type == "cuda" and cfg.gpu is not None:
        cfg = replace(cfg, **asdict(cfg.gpu))
    return replace(cfg, gpu=None, crop=min(cfg.crop, cfg.input_size))


@dataclass(frozen=True)
class LearnProgress:
    """One progress record.  ``phase``: 'features', 'train', 'trained' or 'validate'.

    'trained' comes once, between training and the leave-one-out folds (only when those
    run): ``model`` is then the trained model (final weights, on the learning device;
    ``metadata`` without the estimate), so a caller can save and use it while the folds
    run: on 2 CPU cores they are ~19 of ~52 s.  Read it between yields only, never change it.
    """

    phase: str
    step: int
    total_steps: int
    loss: float
    elapsed_s: float
    eta_s: float | None
    message: str = ""
    loss_teacher: float = float("nan")
    loss_student: float = float("nan")
    loss_distill: float = float("nan")
    model: Any = None


def learn(images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
          classes: Sequence[ClassInfo] | None = None,
          config: LearnConfig | None = None,
          start_from: SegModel | None = None) -> Generator[LearnProgress, None, SegModel]:
    """Learn the classes painted in ``masks`` from ``images``.

    Parameters
    ----------
    images : K arrays ``(H_k, W_k, 3) uint8`` RGB.
    masks : K arrays ``(H_k, W_k) uint8``, 0 = background, 1..N = class ids,
        :data:`engine.labels.NOT_PAINTED` (255) = not painted: ignored by every loss and by
        the teacher's attention (scribbles are examples; see :mod:`engine.labels`).
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
                                        long_sides=sides):
        yield LearnProgress("features", done, total, float("nan"), time.perf_counter() - t0,
                            None, f"features of view {done}/{total}")
    if bank.responses is not None and model.pixel is not None and start_from is None:
        model.pixel.set_statistics(bank.responses)  # the folds start from the same statistics
        init_state.update({k: v.clone() for k, v in model.trainable_state().items()
                           if k.startswith("pixel.filter_")})
    # Per training image (the halves when one example was split; else the supports, which
    # is the only case the leave-one-out estimate below runs in).
    present = _presence(part_masks, len(classes))
    t_train = time.perf_counter()
    steps = yield from _fit(model, bank, list(range(len(parts))), present, cfg, rng, t0,
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
                                            cfg, rng, t0, _fit)))
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


def _fit(model: SegModel, bank: FeatureBank, image_ids: list[int], present: np.ndarray,
         cfg: LearnConfig, rng: np.random.Generator, t0: float, max_steps: int,
         budget: float | None, phase: str = "train",
         student_only: bool = False) -> Generator[LearnProgress, None, int]:
    """Train ``model`` on episodes from ``image_ids``; yields after each step; returns steps."""
    model.train()
    params = trainable_parameters(model)
    opt = AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, ema, best, best_step = time.perf_counter(), None, float("inf"), 0
    amp = autocast_dtype(bank.labels.device) if cfg.mixed_precision else None
    for step in range(1, max_steps + 1):
        # Cosine decay of the learning rate over the steps (never over time: the model must
        # not depend on the machine's load).  The short student-only leave-one-out folds
        # keep the full rate: decay would halve their little training.
        if not student_only:
            cosine = 0.5 * (1 + math.cos(math.pi * (step - 1) / max_steps))
            opt.lr = cfg.lr * (cfg.lr_floor + (1 - cfg.lr_floor) * cosine)
        ep = sample_episodes(bank, image_ids, cfg.loo_batch if student_only else
                             cfg.batch_episodes, cfg.shots_per_episode, model.num_classes,
                             rng, present)
        with torch.autocast(bank.labels.device.type, dtype=amp, enabled=amp is not None):
            if student_only:
                parts = _student_loss(model, bank, ep)
            else:
                parts = _episode_loss(model, bank, ep, cfg)
        loss = ((parts[0] + parts[1] + parts[2]) / 3 + cfg.dice_weight * parts[3]
                + cfg.aux_weight * parts[4])
        if bank.sparse and cfg.affinity_weight > 0:
            loss = loss + cfg.affinity_weight * affinity_loss(parts[5], query_views(bank, ep))
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = float(loss.detach())
        ema = value if ema is None else 0.95 * ema + 0.05 * value
        if ema < best * 0.995:
            best, best_step = ema, step
        spent = time.perf_counter() - start
        remaining = (max_steps - step) * spent / step
        yield LearnProgress(phase, step, max_steps, value, time.perf_counter() - t0, remaining,
                            f"step {step}", *(float(p.detach()) for p in parts[:3]))
        if budget is not None and spent >= budget:
            break
        if step >= cfg.min_steps and step - best_step > cfg.patience:
            break
    model.eval()
    return step


def _episode_loss(model: SegModel, bank: FeatureBank, ep, cfg: LearnConfig):
    """(focal teacher, focal student, coarse MSE, Dice) for one batch of episodes."""
    n = model.num_classes
    fq, fs, ms, target, present = gather(bank, ep, n)
    size = tuple(target.shape[-2:])
    t_coarse = model.teacher_coarse(fq, fs, ms, support_painted(bank, ep))
    s_coarse = model.student_coarse(fq)
    paths = model.pixel_paths(query_responses(bank, ep), fq)
    extra = combine(paths)
    # One decoder pass over teacher and student maps together (bigger batches run faster).
    both = {k: torch.cat([t_coarse[k], s_coarse[k]]) for k in t_coarse}
    t_logits, s_logits = model.decode(both, [torch.cat([f, f]) for f in fq], size,
                                      None if extra is None else torch.cat([extra, extra])
                                      ).chunk(2)
    # Classes with no shot in this episode's supports cannot be found by the teacher:
    # mask their logits and count their pixels as background for the teacher's loss.
    absent = ~present
    if absent.any():
        t_logits = t_logits.clone()
        t_logits[:, 1:][absent] = -1e4
        drop = absent.gather(1, (target - 1).clamp(0, n - 1).flatten(1)).view_as(target)
        is_class = (target > 0) & (target != NOT_PAINTED)
        t_target = torch.where(is_class & drop, torch.zeros_like(target), target)
    else:
        t_target = target
    dice = (dice_loss(t_logits, t_target) + dice_loss(s_logits, target)) / 2
    return (focal_loss(t_logits, t_target), focal_loss(s_logits, target),
            coarse_mse(t_coarse, s_coarse), dice, _paths_loss(paths, target), s_logits)


def _paths_loss(paths: dict, target: torch.Tensor) -> torch.Tensor:
    """Mean of focal + Dice of each pixel path alone (zero without pixel paths)."""
    if not paths:
        return target.new_zeros((), dtype=torch.float32)
    total = 0.0
    for logits in paths.values():
        merged = upsample(merge_binary_logits(logits), tuple(target.shape[-2:]))
        total = total + focal_loss(merged, target) + dice_loss(merged, target)
    return total / len(paths)


def _student_loss(model: SegModel, bank: FeatureBank, ep):
    """Student-only objective (focal counted 3x to keep the loss scale, + Dice)."""
    fq, _, _, target, _ = gather(bank, ep, model.num_classes)
    paths = model.pixel_paths(query_responses(bank, ep), fq)
    extra = combine(paths)
    logits = model.decode(model.student_coarse(fq), fq, tuple(target.shape[-2:]), extra)
    focal = focal_loss(logits, target)
    zero = focal.new_zeros(())
    return focal * 3, zero, zero, dice_loss(logits, target), _paths_loss(paths, target), logits


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
        **loo,
    }
