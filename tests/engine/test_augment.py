"""Augmented training views (engine.learning.augment): the intensity inversion option."""

from __future__ import annotations

import numpy as np

from engine.learning.augment import augmented_view


def textured_pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)
    mask = np.zeros((80, 96), np.uint8)
    mask[20:50, 30:70] = 1
    return image, mask


def test_invert_always_gives_the_inverse_of_the_same_view():
    image, mask = textured_pair()
    plain_img, plain_msk = augmented_view(image, mask, 48, np.random.default_rng(7))
    inv_img, inv_msk = augmented_view(image, mask, 48, np.random.default_rng(7), invert=1.0)
    assert np.array_equal(inv_img, 255 - plain_img)
    assert np.array_equal(inv_msk, plain_msk)


def test_invert_off_draws_no_random_number():
    """``invert=0`` draws nothing for the inversion, so models learned without it are unchanged:
    after it the generator is one number behind a call with an inversion chance that never fires."""
    image, mask = textured_pair()
    off = np.random.default_rng(11)
    on = np.random.default_rng(11)
    for _ in range(5):
        img_off, msk_off = augmented_view(image, mask, 48, off, invert=0.0)
        off.random()  # the number the other call drew for its inversion
        img_on, msk_on = augmented_view(image, mask, 48, on, invert=1e-12)
        assert np.array_equal(img_off, img_on) and np.array_equal(msk_off, msk_on)
    assert off.bit_generator.state == on.bit_generator.state


def test_invert_chance_is_respected():
    image, mask = textured_pair()
    rng = np.random.default_rng(5)
    inverted = 0
    for _ in range(200):
        state = rng.bit_generator.state
        img, _ = augmented_view(image, mask, 48, rng, invert=0.3)
        twin = np.random.default_rng()
        twin.bit_generator.state = state
        plain, _ = augmented_view(image, mask, 48, twin)
        inverted += int(np.array_equal(img, 255 - plain) and not np.array_equal(img, plain))
    assert 40 <= inverted <= 80
