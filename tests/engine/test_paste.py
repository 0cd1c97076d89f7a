"""Stroke pasting (engine.learning.paste): painted class regions copied onto painted background."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from conftest import FAST, run
from synthetic import make_set
from test_sparse import scribbles

from engine.io.labels import NOT_PAINTED, ClassInfo
from engine.learning.features import build_bank
from engine.learning.paste import MAX_PASTES, paste_strokes, stroke_pieces
from engine.learning.train import learn
from engine.nn.model import SegModel


def scribbled_pair() -> tuple[np.ndarray, np.ndarray]:
    """A textured image with a class stroke (value 1) and a long background stroke (0)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    mask = np.full((64, 64), NOT_PAINTED, np.uint8)
    mask[10:14, 10:20] = 1  # 40 px: one piece
    mask[30, 30] = 1  # 1 px: too small to be a piece
    mask[50:53, 5:60] = 0
    return image, mask


def test_pieces_are_the_class_stroke_regions() -> None:
    image, mask = scribbled_pair()
    pieces = stroke_pieces(image, mask)
    assert len(pieces) == 1  # the 1-pixel dab is skipped
    (piece,) = pieces
    assert piece.shape.shape == (4, 10) and piece.shape.all()
    assert (piece.labels == 1).all()
    assert np.array_equal(piece.image, image[10:14, 10:20])


def test_pastes_land_on_background_strokes_with_their_pixels_and_labels() -> None:
    image, mask = scribbled_pair()
    pieces = stroke_pieces(image, mask)
    donor = image[10:14, 10:20].reshape(-1, 3)
    for seed in range(20):
        out_img, out_mask = paste_strokes(image, mask, pieces, np.random.default_rng(seed))
        changed = out_mask != mask
        assert changed.any()
        assert (mask[changed] != 1).all() and (out_mask[changed] == 1).all()
        n = int(changed.sum())
        assert n <= MAX_PASTES * 40
        # Each pasted piece is centred on a painted background pixel: every paste touches
        # the background stroke (rows 50-52), and what it brings are the donor's pixels.
        rows = np.nonzero(changed.any(1))[0]
        assert rows.min() >= 50 - 2 and rows.max() <= 52 + 2
        pasted = {tuple(p) for p in out_img[changed].tolist()}
        assert pasted <= {tuple(p) for p in donor.tolist()}
        # Background-stroke pixels the pastes did not cover keep their label.
        assert ((out_mask == 0) == ((mask == 0) & ~changed)).all()
        assert np.array_equal(image[~changed], out_img[~changed])
    assert np.array_equal(mask, scribbled_pair()[1])  # the inputs are not modified


def test_nothing_to_paste_returns_the_inputs() -> None:
    image, mask = scribbled_pair()
    rng = np.random.default_rng(0)
    assert paste_strokes(image, mask, [], rng)[1] is mask
    no_background = np.where(mask == 0, NOT_PAINTED, mask).astype(np.uint8)
    pieces = stroke_pieces(image, mask)
    assert paste_strokes(image, no_background, pieces, rng)[1] is no_background


def _bank_labels(images, masks, paste: float) -> torch.Tensor:
    torch.manual_seed(0)
    model = SegModel([ClassInfo(1, "disc")]).eval()
    bank = None
    for _, _, bank in build_bank(model, images, masks, 128, 96, 12, np.random.default_rng(3),
                                 torch.device("cpu"), paste=paste):
        pass
    return bank.labels


def test_complete_masks_are_never_pasted_into_and_scribbles_are() -> None:
    images, masks = make_set(0, 3)
    assert torch.equal(_bank_labels(images, masks, 0.0), _bank_labels(images, masks, 1.0))
    rng = np.random.default_rng(1)
    sparse = [scribbles(m, rng, strokes=6) for m in masks]
    # The scribbles keep background strokes away from the objects: no painted background
    # pixel touches a painted class pixel, until pastes put class regions on them.
    assert _touching(_bank_labels(images, sparse, 0.0)) == 0
    assert _touching(_bank_labels(images, sparse, 1.0)) > 0


def _touching(labels: torch.Tensor) -> int:
    """Painted background pixels next to (8-neighbourhood) a class pixel, over all views."""
    cls = torch.nn.functional.max_pool2d((labels == 1).float()[:, None], 3, 1, 1)[:, 0] > 0
    return int((cls & (labels == 0)).sum())


def _weights(images, masks, paste: float) -> dict:
    cfg = replace(FAST, max_steps=3, total_views=8, paste=paste)
    _, model = run(learn(images, masks, [ClassInfo(1, "disc")], cfg))
    return model.trainable_state()


def test_learn_pastes_scribbles_only_when_asked() -> None:
    """``LearnConfig.paste`` reaches the views: same seed, other model for scribbles; the
    very same model for complete masks."""
    images, masks = make_set(2, 3)
    rng = np.random.default_rng(4)
    sparse = [scribbles(m, rng, strokes=6) for m in masks]

    def same(a: dict, b: dict) -> bool:
        return all(torch.equal(a[k], b[k]) for k in a)

    assert same(_weights(images, masks, 0.0), _weights(images, masks, 1.0))
    assert not same(_weights(images, sparse, 0.0), _weights(images, sparse, 1.0))
