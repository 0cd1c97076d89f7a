"""Batches through reusable (pinned on CUDA) host buffers: when they are used, the bytes they
hold, their reuse, and predictions through them on a CPU (``pin=False``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic import make_sample

from engine.infer.predict import Predictor
from engine.infer.staging import HostStaging, pins
from engine.io.resize import pad_to_multiple, resize_image

CPU = torch.device("cpu")


def _images(seed: int, shapes) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]


def _stacked(images, size, rows):
    batch = np.stack([pad_to_multiple(resize_image(im, size)) for im in images])
    return np.concatenate([batch, np.zeros((rows - len(images), *batch.shape[1:]), np.uint8)])


def test_batches_are_pinned_only_for_cuda(disc_model) -> None:
    assert pins(torch.device("cuda")) and pins(torch.device("cuda:1"))
    assert not pins(CPU) and not pins(torch.device("mps"))
    assert HostStaging(torch.device("cuda")).pin and not HostStaging(CPU).pin
    assert Predictor(disc_model, "cpu").staging is None  # a CPU stacks batches as before


@pytest.mark.parametrize("size", [(64, 96), (70, 101), (33, 31), (1, 5)])
def test_staged_batch_holds_the_bytes_of_the_stacked_batch(size) -> None:
    images = _images(0, [(80, 120), (64, 96), (20, 200)])  # shrunk, same size, enlarged
    staging = HostStaging(CPU, pin=False)
    for rows in (3, 4):
        x = staging.stage(images, size, rows=rows)
        assert x.dtype == torch.uint8 and x.device == CPU
        np.testing.assert_array_equal(x.numpy(), _stacked(images, size, rows))


def test_batch_buffers_are_reused_in_turn_and_grown_when_too_small() -> None:
    staging = HostStaging(CPU, pin=False, slots=2)
    a = _images(1, [(64, 64)] * 4)
    first = staging.stage(a, (64, 64))
    second = staging.stage(a[:2], (64, 64))
    bufs = [staging.buffer(0), staging.buffer(1)]
    assert first.data_ptr() == bufs[0].data_ptr() and second.data_ptr() == bufs[1].data_ptr()
    assert bufs[0].numel() == 4 * 64 * 64 * 3 and bufs[1].numel() == 2 * 64 * 64 * 3
    staging.stage(a[:3], (64, 64))  # slot 0 again: fits, same memory
    assert staging.buffer(0).data_ptr() == bufs[0].data_ptr()
    staging.stage(a, (64, 64))  # slot 1 again: too small, grown
    assert staging.buffer(1).numel() == 4 * 64 * 64 * 3
    x = staging.stage(a, (64, 64))  # slot 0 kept its size: reused, right bytes
    assert staging.buffer(0).data_ptr() == bufs[0].data_ptr()
    np.testing.assert_array_equal(x.numpy(), _stacked(a, (64, 64), 4))
    with pytest.raises(ValueError, match="cannot stage"):
        staging.stage(a, (64, 64), rows=3)


def test_predictions_through_the_batch_buffers_are_identical(disc_model) -> None:
    rng = np.random.default_rng(4)
    images = [make_sample(rng, h=h, w=w)[0] for h, w in
              [(90, 120), (90, 120), (90, 120), (120, 90), (200, 150)]]
    plain = Predictor(disc_model, "cpu")
    staged = Predictor(disc_model, "cpu")
    staged.staging = HostStaging(CPU, pin=False)  # the CUDA path, in ordinary memory
    staged._rows = lambda n: max(4, n)  # and zero rows after short batches
    for batch in (images, images[:3], images[::-1]):
        for a, b in zip(plain.predict_batch(batch), staged.predict_batch(batch)):
            np.testing.assert_array_equal(a.labels, b.labels)
            np.testing.assert_array_equal(a.confidence, b.confidence)
    assert staged.staging.buffer(0) is not None and staged.staging.buffer(1) is not None
