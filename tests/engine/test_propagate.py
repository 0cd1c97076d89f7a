"""Strokes grown over superpixels (engine.learning.propagate)."""

from __future__ import annotations

import cv2
import numpy as np

from engine.io.labels import NOT_PAINTED
from engine.learning.config import LearnConfig
from engine.learning.propagate import propagate_strokes


def _scene(seed: int = 0):
    """A red disc (radius 60) on a grey, noisy ground; a thin class stroke across its middle
    and a background stroke far from it; everything else unpainted."""
    rng = np.random.default_rng(seed)
    h, w = 240, 320
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - 120) ** 2 + (xx - 110) ** 2 < 60 ** 2
    image = np.where(disc[..., None], [200, 40, 40], [110, 110, 110]).astype(np.float64)
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    mask = np.full((h, w), NOT_PAINTED, np.uint8)
    mask[117:123, 80:140] = 1
    mask[20:26, 200:300] = 0
    return image, mask, disc


def test_strokes_grow_inside_their_own_region_and_painted_pixels_stay() -> None:
    image, mask, disc = _scene()
    out = propagate_strokes(image, mask, segment_side=16)
    painted = mask != NOT_PAINTED
    assert np.array_equal(out[painted], mask[painted])
    grown_cls = (out == 1) & ~painted
    grown_bg = (out == 0) & ~painted
    assert grown_cls.sum() > 2 * (mask == 1).sum()  # the stroke's superpixels joined it
    assert grown_bg.sum() > (mask == 0).sum()
    assert disc[grown_cls].mean() > 0.98  # ... inside the disc
    assert not disc[grown_bg].any()  # background grown only outside it
    assert (out == NOT_PAINTED).sum() > 0.5 * out.size  # far from strokes stays unpainted


def test_background_only_leaves_class_strokes_as_painted() -> None:
    image, mask, _ = _scene(1)
    out = propagate_strokes(image, mask, segment_side=16, classes=False)
    assert (out == 1).sum() == (mask == 1).sum()
    assert (out == 0).sum() > (mask == 0).sum()


def test_a_superpixel_that_looks_like_the_other_label_is_not_grown() -> None:
    """A class stroke painted on the grey ground by mistake next to the disc: its
    superpixels look like the background strokes, so they are not called class."""
    image, mask, disc = _scene(2)
    mask[200:206, 20:60] = 1  # on grey, far from the disc
    out = propagate_strokes(image, mask, segment_side=16)
    grown = (out == 1) & (mask == NOT_PAINTED)
    assert not grown[180:230, 0:80].any()
    assert disc[grown].mean() > 0.98


def test_complete_masks_are_returned_unchanged() -> None:
    image, _, disc = _scene(3)
    complete = disc.astype(np.uint8)
    assert propagate_strokes(image, complete, segment_side=16) is complete


def test_a_superpixel_touched_by_two_labels_is_left_alone() -> None:
    """A background stroke right against a class stroke (on grey ground): every superpixel
    they cross is touched by both, so neither label grows there."""
    image, mask, _ = _scene(4)
    mask[150:153, 200:300] = 0
    mask[153:156, 200:300] = 1
    out = propagate_strokes(image, mask, segment_side=16)
    band = np.zeros(mask.shape, bool)
    band[140:166, 205:295] = True
    assert (out[band & (mask == NOT_PAINTED)] == NOT_PAINTED).all()
    assert ((out == 0) & (mask == NOT_PAINTED)).any()  # the far stroke still grows


def _small_discs(seed: int = 5):
    """Small bright discs (radius 9-16) on strong noise, where superpixel borders miss the
    discs' edges by a pixel or two; short class strokes inside, long background strokes
    kept 4 px away from every disc."""
    rng = np.random.default_rng(seed)
    h = w = 128
    yy, xx = np.mgrid[:h, :w]
    image = rng.normal(90, 25, (h, w, 3))
    discs = np.zeros((h, w), bool)
    mask = np.full((h, w), NOT_PAINTED, np.uint8)
    for _ in range(3):
        r = int(rng.integers(9, 16))
        cy, cx = (int(v) for v in rng.integers(r, h - r, 2))
        d = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        image[d] = (235, 225, 120)
        discs |= d
        mask[cy - 1:cy + 2, cx - r // 2:cx + r // 2] = 1
    far = cv2.dilate(discs.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
    for y in (10, 40, 70, 100, 120):
        row = np.zeros((h, w), bool)
        row[y - 1:y + 2, 5:123] = True
        mask[row & far] = 0
    return np.clip(image, 0, 255).astype(np.uint8), mask, discs


def test_a_margin_keeps_grown_background_off_the_objects_rims() -> None:
    default = LearnConfig().propagate_margin  # what the learner uses, checked beside 0 and 2
    margins = sorted({0, default, 2})
    wrong, grown = dict.fromkeys(margins, 0), dict.fromkeys(margins, 0)
    for seed in (5, 6, 7):
        image, mask, discs = _small_discs(seed)
        out = {m: propagate_strokes(image, mask, 20, classes=False, margin=m) for m in margins}
        for m, o in out.items():
            new = (o == 0) & (mask == NOT_PAINTED)
            wrong[m] += int((new & discs).sum())
            grown[m] += int(new.sum())
        # with the margin, a pixel keeps grown background only where all of its 5 x 5
        # neighbourhood is background without it (painted or grown)
        kept = (out[2] == 0) & (mask == NOT_PAINTED)
        assert not (kept & (out[0] != 0)).any()
        ys, xs = np.nonzero(kept)
        for y, x in zip(ys[::37], xs[::37]):
            assert (out[0][max(0, y - 2):y + 3, max(0, x - 2):x + 3] == 0).all()
    assert wrong[0] > 0  # without a margin the rims get grown background
    assert wrong[2] == 0
    assert grown[2] > 0.4 * grown[0]  # most of the growth stays
    # the default margin keeps nearly all the grown background off the rims, and grows at
    # least as much as 2 px does
    assert wrong[default] * 10 <= wrong[0] and grown[default] >= grown[2]
