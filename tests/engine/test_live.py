"""Live rounds: short warm-started learning while a person paints."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import FAST, run
from synthetic import make_set
from test_sparse import scribbles

from engine.io.labels import ClassInfo
from engine.learning.live import live_round
from engine.learning.train import learn

DISC = [ClassInfo(1, "disc", (255, 0, 0))]
SMALL = replace(FAST, total_views=12)


@pytest.fixture(autouse=True)
def _short_rounds(monkeypatch) -> None:
    import engine.learning.live

    monkeypatch.setattr(engine.learning.live, "ROUND_STEPS", 8)
    monkeypatch.setattr(engine.learning.live, "FIRST_ROUND_STEPS", 10)


def _weights(model) -> torch.Tensor:
    return torch.cat([v.flatten().float() for v in model.trainable_state().values()])


def test_a_round_continues_from_the_previous_model() -> None:
    images, masks = make_set(0, 3)
    sparse = [scribbles(m, np.random.default_rng(1)) for m in masks]
    _, first = run(live_round(images, sparse, DISC, None, SMALL))
    _, second = run(live_round(images, sparse, DISC, first, SMALL))
    _, again = run(live_round(images, sparse, DISC, first, SMALL))
    assert second.metadata["total_steps"] == first.metadata["steps"] + second.metadata["steps"]
    assert torch.equal(_weights(second), _weights(again))  # same inputs, same model
    assert not torch.equal(_weights(second), _weights(first))
    # The continued round starts where the first ended: its first loss is the first's last.
    recs, _ = run(live_round(images, sparse, DISC, first, SMALL))
    fresh, _ = run(live_round(images, sparse, DISC, None, SMALL))
    first_loss = next(r.loss for r in recs if r.phase == "train")
    fresh_loss = next(r.loss for r in fresh if r.phase == "train")
    assert first_loss < fresh_loss


def test_a_round_after_a_class_was_added_starts_afresh() -> None:
    images, masks = make_set(0, 2)
    _, first = run(live_round(images, masks, DISC, None, SMALL))
    images2, masks2 = make_set(10, 3, squares=True, n_shapes=4)
    two = [*DISC, ClassInfo(2, "square", (0, 0, 255))]
    _, model = run(live_round(images2, masks2, two, first, SMALL))
    assert model.num_classes == 2 and model.metadata["total_steps"] == model.metadata["steps"]


def test_learn_refuses_to_continue_a_model_of_other_classes() -> None:
    images, masks = make_set(0, 2)
    _, first = run(live_round(images, masks, DISC, None, SMALL))
    two = [*DISC, ClassInfo(2, "square", (0, 0, 255))]
    images2, masks2 = make_set(10, 3, squares=True, n_shapes=4)
    with pytest.raises(ValueError, match="other classes"):
        run(learn(images2, masks2, two, SMALL, start_from=first))
