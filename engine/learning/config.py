"""Settings and progress records of :func:`engine.learning.train.learn`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from engine.nn.model import HeadConfig


@dataclass(frozen=True)
class GpuSettings:
    """Settings that replace :class:`LearnConfig`'s when learning runs on a CUDA GPU.

    The head is small: on a GPU a training step is launch-bound, so a GPU step takes 16
    episodes of larger crops (more context), over more cached views (figures:
    ``benchmarks/results/engine-docstring-figures.md``).
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

    input_size : long side (px) images are resized to before the backbone (512 rather than 384:
        what it gains and costs is in ``benchmarks/results/accuracy-k5-5seeds-512px.md``).
    crop : side of the square training views.
    total_views : augmented views cached over the whole support set.  80 rather than 40: on
        25 draws under each of two augmentation streams it raised 9 of the 10 set means and
        9 of the 10 worst draws, at no measurable learning time
        (``benchmarks/results/views-80-screen.md``).
    fg_bias : chance that a view's crop is centred on a foreground pixel (else uniform).
        Kept low: crops centred on the class teach a foreground prior far above a whole
        image's, and the model then over-segments (figures:
        ``benchmarks/results/engine-docstring-figures.md``).
    split_single : with one support image, train on two disjoint halves of it (see
        :func:`split_single_support`).
    object_scale : shrink ``input_size`` (to 2/3 at most) when the painted objects are large
        next to a training crop (see :func:`engine.learning.scale.object_scaled_size`).
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
        (``engine.nn.pixel``), which makes each path a classifier in its own right.
    affinity_weight : weight of :func:`engine.learning.losses.affinity_loss` on the student's
        logits, only when some example has unpainted pixels (scribbles); complete masks never use
        it.
    paste : chance that an augmented view of a scribbled example gets some of its class strokes
        pasted onto its background strokes (:mod:`engine.learning.paste`).  Off: on the 15
        scribbled draws not used to design it, it changed nothing on average
        (``benchmarks/results/effort-k5-n10-paste.md``).  Complete masks are never pasted into.
    invert : chance that an augmented view's intensities are inverted (``255 - x``,
        RandAugment's *Invert*).  Off: it helped nuclei and cost the other four sets, net
        about zero (``benchmarks/results/augment-invert-screen.md``).
    unpainted_bg : weight of a cross-entropy towards background at the *unpainted* pixels of
        scribbled examples (:func:`engine.learning.losses.unpainted_background_loss`), a weak
        prior against the halo a scribbled model draws around objects; complete masks have no
        unpainted pixels, so their models do not change.  The plain form cost polyps: it
        pushes hardest inside large objects that are mostly unpainted.
    unpainted_bg_soft : weight that prior per pixel by the model's own background
        probability, so it stops pushing where the features already say *class*.  Soft at
        0.2 is the default: it gained over no prior on the scribbled draws, also on draws not
        used to choose it (``benchmarks/results/scribble-halo.md``).
    propagate : grow each scribbled example's strokes over the SLIC superpixels (about this
        many working-scale pixels across) whose unpainted part looks like them, before its
        views are cut (:mod:`engine.learning.propagate`); 0 = off.  Complete masks are never
        changed.  On by default at 20 px with ``propagate_classes`` off (below).
    propagate_classes : grow class strokes as well as background strokes.  Off by default:
        grown class labels go wrong on objects thinner than a superpixel, and growing both
        cost accuracy on scribbled draws (``benchmarks/results/scribble-propagation.md``),
        while growing the background strokes alone gained, most on cracks and weeds
        (``benchmarks/results/effort-k5-n10-propagate-bg.md``, with the SLIC cost per example).
    propagate_margin : a grown pixel keeps its label only when every pixel within this many
        working-scale px has that label too (painted or grown, before this rule): superpixel
        borders miss object edges by a pixel or two, and a grown background rim teaches the
        model to cut every object's rim (``tests/engine/test_propagate.py``).  1 px by
        default: it kept the synthetic scribble class as good as 2 px did and gained on thin
        cracks over 2 px (``effort-k5-n10-propagate-bg.md``, last section).
    mixed_precision : bf16/fp16 autocast in training steps on a GPU.  Off by default: the
        small head is launch-bound there, so autocast saves no time and adds cast kernels,
        and fp32 rules out low-precision attention scores as a cause of lost accuracy (not
        measured apart from the other GPU settings).
    gpu : :class:`GpuSettings` used instead of the matching fields on CUDA; ``None`` = use
        the fields above on every device.
    """

    input_size: int = 512
    crop: int = 192
    total_views: int = 80
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
    paste: float = 0.0
    invert: float = 0.0
    unpainted_bg: float = 0.2
    unpainted_bg_soft: bool = True
    propagate: int = 20
    propagate_classes: bool = False
    propagate_margin: int = 1
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
    """One progress record.  ``phase``: 'features', 'trees' (fitting the trees path),
    'train', 'trained' or 'validate'.

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
