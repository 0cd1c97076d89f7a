"""The working scale follows the size of the painted objects."""

from __future__ import annotations

import numpy as np

from engine.learning.scale import median_object_diameter, object_scaled_size


def _discs(radius: int, n: int, size: int = 512) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    m = np.zeros((size, size), np.uint8)
    for i in range(n):
        cy, cx = (i // 3) * size // 3 + size // 6, (i % 3) * size // 3 + size // 6
        m[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2] = 1
    return m


def test_median_diameter_at_working_scale():
    d = median_object_diameter([_discs(40, 4)], 256)  # 80 px wide at 512 -> 40 at 256
    assert d is not None and abs(d - 40) < 2
    assert median_object_diameter([np.zeros((64, 64), np.uint8)], 384) is None


def test_small_objects_keep_the_scale_large_ones_shrink_it():
    assert object_scaled_size([_discs(10, 9)], 512, 192) == 512  # 20 px at 512
    # 160 px at 512 (wider than a third of a 192 px crop): 512 * 64 / 160 = 205 -> floor 256
    assert object_scaled_size([_discs(80, 2)], 512, 192) == 256
    # 100 px: 512 * 64 / 100 = 328 -> 320
    assert object_scaled_size([_discs(50, 2)], 512, 192) == 320
    assert object_scaled_size([np.zeros((64, 64), np.uint8)], 512, 192) == 512


def test_learn_records_the_scale_it_used():
    from dataclasses import replace

    from conftest import FAST, run

    from engine.learning.train import learn

    images = [np.random.default_rng(i).integers(0, 255, (128, 128, 3), dtype=np.uint8)
              for i in range(2)]
    # discs 48 px wide, touching ones merged: median object 73 px > 96 / 3; 128 * 32 / 73 = 56
    # -> the floor, half of 128
    masks = [_discs(24, 2, size=128), _discs(24, 3, size=128)]
    cfg = replace(FAST, max_steps=2, total_views=4)
    _, model = run(learn(images, masks, config=cfg))
    assert model.metadata["input_size"] == 64
    _, model = run(learn(images, masks, config=replace(cfg, object_scale=False)))
    assert model.metadata["input_size"] == 128
