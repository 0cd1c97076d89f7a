"""Run the engine's generators to the end: :func:`drive` and :func:`fit`.

The engine's long jobs are generators (progress records, cancel between yields) that return
their result; these helpers spare every caller the hand-written ``StopIteration`` loop.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

import numpy as np

R = TypeVar("R")


def drive(gen: Generator[Any, None, R], progress: Callable[[Any], object] | None = None) -> R:
    """Exhaust ``gen``, passing every record to ``progress``; return the generator's value.

    If ``progress`` raises, the generator is closed (its ``finally`` blocks run) and the
    exception propagates: raise from the callback to cancel.
    """
    try:
        while True:
            record = next(gen)
            if progress is not None:
                progress(record)
    except StopIteration as stop:
        return stop.value
    finally:
        gen.close()


def fit(images: Sequence[np.ndarray], masks: Sequence[np.ndarray], classes=None, config=None,
        progress: Callable[[Any], object] | None = None):
    """Learn the classes painted in ``masks`` (see :func:`engine.learning.train.learn`).

    Returns the :class:`~engine.nn.model.SegModel`; ``progress`` gets every ``LearnProgress``
    record.
    """
    from engine.learning.train import learn

    return drive(learn(images, masks, classes, config), progress)
