"""Shared fixtures: small models learned once per test session on synthetic shapes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import make_set

from engine.io.labels import ClassInfo
from engine.learning.train import LearnConfig, learn

FAST = LearnConfig(input_size=128, crop=96, total_views=20, max_steps=60, time_budget_s=None,
                   loo_steps=0, min_steps=10**6)


def run(gen):
    """Consume a learn generator; return (records, model)."""
    from engine import drive

    records: list = []
    model = drive(gen, records.append)
    return records, model


@pytest.fixture(scope="session")
def disc_model():
    """One class (bright discs) learned from 5 synthetic examples."""
    images, masks = make_set(0, 5)
    _, model = run(learn(images, masks, [ClassInfo(1, "disc", (255, 0, 0))], FAST))
    return model


@pytest.fixture(scope="session")
def two_class_model():
    """Discs (1) and squares (2) in one model."""
    from dataclasses import replace

    images, masks = make_set(10, 5, squares=True, n_shapes=4)
    classes = [ClassInfo(1, "disc", (255, 0, 0)), ClassInfo(2, "square", (0, 0, 255))]
    _, model = run(learn(images, masks, classes, replace(FAST, max_steps=160, total_views=40)))
    return model
