"""Live learning: short warm-started rounds while a person paints (the app's *Live* mode).

A round is :func:`engine.learning.train.learn` with few steps, no leave-one-out estimate and fewer
cached views, continuing from the previous round's model (same classes) so each round
refines instead of starting over.  The caller starts a round when strokes change (after
closing the running one: rounds are generators, cancelled between steps) and shows each
round's model; a round's model depends only on its inputs, the previous model and the seed.
*Learn class* stays the full run (:class:`engine.learning.train.LearnConfig` defaults).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import replace

import numpy as np

from engine.io.labels import ClassInfo
from engine.nn.model import SegModel

from .train import LearnConfig, LearnProgress, learn

ROUND_STEPS = 30
FIRST_ROUND_STEPS = 40


def round_config(base: LearnConfig | None = None, first: bool = False) -> LearnConfig:
    """Settings of one live round: few steps, at most 24 cached views, no estimate, no safety cut
    (a round is short; cancelling is how it stops early)."""
    base = base or LearnConfig()
    steps = FIRST_ROUND_STEPS if first else ROUND_STEPS
    gpu = None if base.gpu is None else replace(base.gpu, max_steps=steps * 2, loo_steps=0,
                                               total_views=40)
    return replace(base, max_steps=steps, min_steps=steps, loo_steps=0,
                   total_views=min(24, base.total_views),
                   time_budget_s=None, gpu=gpu)


def live_round(images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
               classes: Sequence[ClassInfo], previous: SegModel | None = None,
               base: LearnConfig | None = None) -> Generator[LearnProgress, None, SegModel]:
    """One round: continue from ``previous`` when it has the same classes and head, else
    start afresh (the first round, or after a class was added or deleted)."""
    cfg = round_config(base, first=previous is None)
    usable = previous is not None and [c.id for c in previous.classes] == [c.id for c in classes] \
        and previous.config == cfg.head
    return (yield from learn(images, masks, classes, cfg, start_from=previous if usable else None))
