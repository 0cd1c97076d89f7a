"""The CUDA path: learn, predict (mixed precision), tile, label a folder, save/load across devices.

Skipped where torch sees no CUDA GPU (CI); run on a GPU machine with
``python -m pytest -q tests/engine/test_cuda.py``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import FAST, run
from PIL import Image
from synthetic import make_sample, make_set

from engine.infer.batch import label_folder
from engine.infer.predict import Predictor
from engine.io.images import read_mask
from engine.io.labels import ClassInfo
from engine.learning.metrics import IoUAccumulator
from engine.learning.train import GpuSettings, learn
from engine.nn.modelfile import load_model, save_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


@pytest.fixture(scope="module")
def cuda_model():
    images, masks = make_set(0, 5)
    records, model = run(learn(images, masks, [ClassInfo(1, "disc", (255, 0, 0))],
                               replace(FAST, device="cuda", loo_steps=10)))
    return records, model


def _iou(predictor: Predictor, seed: int) -> float:
    images, masks = make_set(seed, 6)
    acc = IoUAccumulator(1)
    for im, m in zip(images, masks):
        acc.add(predictor.predict(im).labels, m)
    return float(acc.per_class()[0])


def test_learns_discs_on_cuda_in_mixed_precision(cuda_model):
    records, model = cuda_model
    assert model.metadata["train_device"].startswith("cuda")
    settings = model.metadata["train_settings"]  # the GPU settings were applied
    assert settings["batch_episodes"] == GpuSettings().batch_episodes and settings["gpu"] is None
    losses = [r.loss for r in records if r.phase == "train"]
    assert all(np.isfinite(losses)), "non-finite loss under autocast"
    assert losses[-1] < losses[0]
    assert model.metadata["loo_miou"] is not None
    iou = _iou(Predictor(model, "cuda"), seed=99)
    assert iou > 0.9, f"disc IoU on CUDA {iou:.3f}"


def test_cuda_and_cpu_predictions_agree(cuda_model, tmp_path):
    _, model = cuda_model
    path = tmp_path / "discs.dfss"
    save_model(model, path)
    on_cpu = Predictor(load_model(path, "cpu"), "cpu")
    on_gpu = Predictor.from_file(path, "cuda")
    images, _ = make_set(7, 4)
    for im in images:
        a, b = on_cpu.predict(im).labels, on_gpu.predict(im).labels
        # bf16 autocast on the GPU: only pixels at the decision boundary may differ
        assert (a != b).mean() < 0.01


@pytest.mark.parametrize("h,w", [(37, 1001), (1500, 1300)])
def test_output_size_and_tiling_on_cuda(cuda_model, h, w):
    _, model = cuda_model
    predictor = Predictor(model, "cuda")
    image, mask = make_sample(np.random.default_rng(5), h, w, n_shapes=6, radius=(12, 18))
    pred = predictor.predict(image)
    assert pred.labels.shape == (h, w) and pred.confidence.shape == (h, w)
    if min(h, w) > 100:
        acc = IoUAccumulator(1)
        acc.add(pred.labels, mask)
        assert acc.per_class()[0] > 0.8


def test_label_folder_on_cuda(cuda_model, tmp_path):
    _, model = cuda_model
    src = tmp_path / "in"
    src.mkdir()
    images, masks = make_set(3, 6)
    paths = []
    for i, im in enumerate(images):
        paths.append(src / f"im{i}.png")
        Image.fromarray(im).save(paths[-1])
    records = list(label_folder(Predictor(model, "cuda"), paths, tmp_path / "out", batch_size=4))
    assert [r.status for r in records] == ["labelled"] * len(paths)
    acc = IoUAccumulator(1)
    for p, m, r in zip(paths, masks, records):
        written = read_mask(tmp_path / "out" / f"{p.stem}.png")
        np.testing.assert_array_equal(written, r.labels)
        acc.add(written, m)
    assert acc.per_class()[0] > 0.9


def test_cuda_graphs_replay_the_eager_forward_pass(cuda_model):
    _, model = cuda_model
    predictor = Predictor(model, "cuda")
    assert predictor.graphs is not None
    images, _ = make_set(11, 8)
    first, second = images[:4], images[4:]
    eager_first = predictor.predict_batch(first)  # first sight of the shape: eager
    assert predictor.graphs.shapes == []
    graphed_second = predictor.predict_batch(second)  # second sight: captured and replayed
    graphed_first = predictor.predict_batch(first)  # replayed again, other inputs
    assert len(predictor.graphs.shapes) == 1 and predictor.graphs.disabled is None
    predictor.graphs.disabled = "compare with eager"
    eager_second = predictor.predict_batch(second)
    for a, b in [*zip(eager_first, graphed_first), *zip(eager_second, graphed_second)]:
        # the same kernels: equal up to the odd pixel exactly at the 0.5 boundary
        assert (a.labels != b.labels).mean() < 1e-3
        assert np.abs(a.confidence - b.confidence).max() < 1e-2
    # each result is a copy: the later replay did not overwrite the earlier one's values
    assert not np.array_equal(graphed_second[0].confidence, graphed_first[0].confidence)


def test_cuda_graphs_are_bounded_per_shape(cuda_model):
    _, model = cuda_model
    predictor = Predictor(model, "cuda")
    predictor.graphs.max_graphs = 2
    images = [make_sample(np.random.default_rng(h), h, w, n_shapes=2, radius=(8, 12))[0]
              for h, w in ((96, 192), (128, 128), (192, 96))]  # three working sizes
    for image in images:
        for _ in range(3):
            pred = predictor.predict(image)
            assert pred.labels.shape == image.shape[:2]
    assert len(predictor.graphs.shapes) == 2  # the third shape runs eagerly
    # The graphs share one memory pool: replaying one after the other (and the eager third)
    # leaves each result as the eager forward pass gives it.
    graphed = [predictor.predict(im) for im in images + images[::-1]]
    predictor.graphs.disabled = "compare with eager"
    for a, im in zip(graphed, images + images[::-1]):
        b = predictor.predict(im)
        assert (a.labels != b.labels).mean() < 1e-3
        assert np.abs(a.confidence - b.confidence).max() < 1e-2


def test_cuda_graphs_pad_batches_to_a_power_of_two(cuda_model):
    _, model = cuda_model
    predictor = Predictor(model, "cuda")
    images, _ = make_set(12, 4)
    predictor.predict_batch(images)  # batch of 4: first sight, eager
    three = predictor.predict_batch(images[:3])  # runs as 4: second sight, captured
    assert [key[0][0] for key in predictor.graphs.shapes] == [4]
    predictor.graphs.disabled = "compare with eager"
    for a, b in zip(three, predictor.predict_batch(images[:3])):
        assert (a.labels != b.labels).mean() < 1e-3


def test_graph_cache_runs_eagerly_when_a_capture_fails():
    from engine.infer.graphs import GraphCache

    def syncs(x):  # .item() waits for the GPU: not allowed while a graph is recorded
        return x * float(x.sum().item())

    cache = GraphCache(syncs, min_uses=1)
    x = torch.ones(4, device="cuda")
    torch.testing.assert_close(cache(x), x * 4)
    assert cache.disabled is not None and cache.shapes == []
    torch.testing.assert_close(cache(x + 1), (x + 1) * 8)  # eager from then on


def test_cuda_graphs_shared_by_two_threads(cuda_model):
    from concurrent.futures import ThreadPoolExecutor

    _, model = cuda_model
    images, _ = make_set(13, 6)
    reference = Predictor(model, "cuda")
    reference.graphs.disabled = "eager reference"
    expected = [reference.predict(im).labels for im in images]
    shared = Predictor(model, "cuda")  # as two app jobs holding one predictor

    def work(order):
        return [(i, shared.predict(images[i]).labels) for _ in range(4) for i in order]

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(work, [range(6), range(5, -1, -1)]))
    assert shared.graphs.shapes and shared.graphs.disabled is None
    for i, labels in (r for res in results for r in res):
        assert (labels != expected[i]).mean() < 1e-3


def test_flip_average_on_cuda_graphs_matches_eager_and_finds_discs(cuda_model):
    _, model = cuda_model
    predictor = Predictor(model, "cuda", flip_average=True)
    images, _ = make_set(12, 4)
    predictor.predict_batch(images)  # first sight: eager
    graphed = predictor.predict_batch(images)  # captured and replayed
    assert len(predictor.graphs.shapes) == 1 and predictor.graphs.disabled is None
    predictor.graphs.disabled = "compare with eager"
    eager = predictor.predict_batch(images)
    for a, b in zip(eager, graphed):
        assert (a.labels != b.labels).mean() < 1e-3
        assert np.abs(a.confidence - b.confidence).max() < 1e-2
    predictor.graphs.disabled = None
    # equivariant on the GPU too: the mirror image's prediction is the mirrored prediction
    img = images[0]
    direct, of_mirror = predictor.predict(img), predictor.predict(img[:, ::-1])
    assert (direct.labels[:, ::-1] != of_mirror.labels).mean() < 1e-3
    assert _iou(predictor, 21) > 0.9


def test_pinned_batches_on_cuda_copy_the_bytes_of_the_stacked_batch(cuda_model):
    from engine.infer.staging import HostStaging
    from engine.io.resize import pad_to_multiple, resize_image

    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (150, 190, 3), dtype=np.uint8) for _ in range(4)]
    staging = HostStaging(torch.device("cuda"))
    assert staging.pin
    # More batches than slots, each checked only after the next ones were staged: a buffer
    # rewritten while its copy was still running would show up as wrong bytes.
    sizes = [(96, 128), (128, 96), (64, 64), (96, 128), (100, 120)] * 3
    staged = [staging.stage(images, s) for s in sizes]
    assert staging.buffer(0).is_pinned() and staging.buffer(1).is_pinned()
    for s, x in zip(sizes, staged):
        expected = np.stack([pad_to_multiple(resize_image(im, s)) for im in images])
        np.testing.assert_array_equal(x.cpu().numpy(), expected)


def test_pinned_batches_predict_what_stacked_batches_predict(cuda_model):
    _, model = cuda_model
    pinned, stacked = Predictor(model, "cuda"), Predictor(model, "cuda")
    assert pinned.staging is not None and pinned.staging.pin
    stacked.staging = None  # the batch stacked in pageable memory, as before
    images, _ = make_set(14, 7)
    for batch in (images[:4], images[4:], images):  # 3 images run as 4: zero rows staged
        for a, b in zip(pinned.predict_batch(batch), stacked.predict_batch(batch)):
            # the same inputs and kernels (tolerances as above, for cuDNN's choices)
            assert (a.labels != b.labels).mean() < 1e-3
            assert np.abs(a.confidence - b.confidence).max() < 1e-2
