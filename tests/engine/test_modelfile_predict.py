"""Model file round-trip and damage; prediction sizes, tiling and confidence."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from synthetic import make_sample

from engine.infer.predict import Prediction, Predictor
from engine.learning.metrics import IoUAccumulator
from engine.nn.modelfile import ModelFileError, load_model, read_header, save_model


def test_model_file_round_trip(disc_model, tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(disc_model, path)
    loaded = load_model(path)
    assert [c.name for c in loaded.classes] == ["disc"]
    assert loaded.metadata["steps"] == disc_model.metadata["steps"]
    image, _ = make_sample(np.random.default_rng(5))
    a = Predictor(disc_model, "cpu").predict(image)
    b = Predictor(loaded, "cpu").predict(image)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-5)
    assert Predictor(loaded, "cpu").model_id == Predictor(disc_model, "cpu").model_id


def test_cpu_layout_of_the_head_keeps_predictions_and_saving(disc_model, tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(disc_model, path)
    fast, plain = Predictor(load_model(path), "cpu"), Predictor(load_model(path), "cpu")
    conv = fast.model.head.mixer1[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    plain.model.match_layout(torch.device("cuda"))  # the GPU's layout, run on the CPU
    assert plain.model.head.mixer1[0].weight.is_contiguous()
    batch = np.stack([make_sample(np.random.default_rng(s), h=96, w=128)[0] for s in (1, 2)])
    np.testing.assert_allclose(fast._probs(batch), plain._probs(batch), atol=1e-5)
    save_model(fast.model, tmp_path / "again.safetensors")  # channels-last weights save
    again = Predictor(load_model(tmp_path / "again.safetensors"), "cpu")
    assert again.model_id == fast.model_id == plain.model_id
    np.testing.assert_allclose(again._probs(batch), fast._probs(batch), atol=1e-6)


@pytest.mark.parametrize("h, w", [(37, 101), (150, 200), (300, 500)])
def test_finishing_on_the_device_matches_the_host_path(disc_model, h, w):
    """The GPU path (resize + threshold as tensors) is the CPU path's arithmetic."""
    image, _ = make_sample(np.random.default_rng(h), h=h, w=w)
    host = Predictor(disc_model, "cpu")
    device = Predictor(disc_model, "cpu")
    device.finish_on_device = True
    a, b = host.predict_batch([image, image[::-1]]), device.predict_batch([image, image[::-1]])
    for pa, pb in zip(a, b):
        assert pb.labels.shape == (h, w) and pb.labels.dtype == np.uint8
        assert pb.confidence.dtype == np.float32
        assert (pa.labels != pb.labels).mean() < 1e-3  # only pixels at p = 0.5 may differ
        np.testing.assert_allclose(pa.confidence, pb.confidence, atol=1e-4)
    assert a[0].labels.any() and not a[0].labels.all()


def test_finishing_on_the_device_matches_the_host_path_with_two_classes(two_class_model):
    image, _ = make_sample(np.random.default_rng(4), h=150, w=200, squares=True, n_shapes=4)
    host, device = Predictor(two_class_model, "cpu"), Predictor(two_class_model, "cpu")
    device.finish_on_device = True
    a, b = host.predict(image), device.predict(image)
    assert (a.labels != b.labels).mean() < 1e-3
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)
    assert set(np.unique(a.labels)) == {0, 1, 2}


def test_mixed_precision_predictor_runs_a_low_precision_copy(disc_model, monkeypatch):
    """On a GPU the predictor runs bf16 weights; the model given keeps float32 and its id."""
    import engine.infer.predict

    image, mask = make_sample(np.random.default_rng(8), h=96, w=128)
    full = Predictor(disc_model, "cpu")
    monkeypatch.setattr(engine.infer.predict, "autocast_dtype", lambda device: torch.bfloat16)
    low = Predictor(disc_model, "cpu")
    assert low.model is not disc_model
    assert low.model.head.mixer1[0].weight.dtype == torch.bfloat16
    assert all(v.dtype == torch.float32 for v in disc_model.trainable_state().values()
               if v.is_floating_point())
    assert low.model_id == full.model_id
    a, b = full.predict(image), low.predict(image)
    assert b.labels.shape == (96, 128) and b.confidence.dtype == np.float32
    assert (a.labels != b.labels).mean() < 0.02
    acc = IoUAccumulator(1)
    acc.add(b.labels, mask)
    assert acc.per_class()[0] > 0.8


@pytest.mark.parametrize("damage", ["truncate", "garble", "png", "empty"])
def test_damaged_model_file_gives_clear_error(disc_model, tmp_path, damage):
    path = tmp_path / "m.safetensors"
    save_model(disc_model, path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garble":
        path.write_bytes(data[:8] + bytes(reversed(data[8:200])) + data[200:])
    elif damage == "png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    else:
        path.write_bytes(b"")
    with pytest.raises(ModelFileError, match=str(path.name)):
        load_model(path)


def test_future_format_version_is_refused(disc_model, tmp_path):
    from safetensors.torch import load_file, save_file

    path = tmp_path / "m.safetensors"
    save_model(disc_model, path)
    header = read_header(path)
    header["format_version"] = 99
    save_file(load_file(str(path)), str(path), metadata={"distillfss": json.dumps(header)})
    with pytest.raises(ModelFileError, match="version 99"):
        load_model(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("h, w", [(37, 1001), (1001, 37), (1, 1), (129, 67), (300, 200)])
def test_output_has_the_input_size(disc_model, h, w):
    image = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    pred = Predictor(disc_model, "cpu").predict(image)
    assert pred.labels.shape == (h, w) and pred.labels.dtype == np.uint8
    assert pred.confidence.shape == (h, w) and pred.confidence.dtype == np.float32
    assert 0.0 <= pred.confidence.min() and pred.confidence.max() <= 1.0


def test_large_image_is_tiled_and_finds_the_shapes(disc_model):
    # Supports were 128 px: a 700 x 900 image is > 2x that, so it is tiled at the supports'
    # pixel scale.  Build it from 128-px synthetic tiles so the discs keep their size.
    rng = np.random.default_rng(11)
    rows = []
    masks = []
    for _ in range(6):
        pairs = [make_sample(rng) for _ in range(8)]
        rows.append(np.concatenate([p[0] for p in pairs], 1))
        masks.append(np.concatenate([p[1] for p in pairs], 1))
    image, mask = np.concatenate(rows)[:700, :900], np.concatenate(masks)[:700, :900]
    predictor = Predictor(disc_model, "cpu")
    assert predictor.is_tiled(*image.shape[:2])
    pred = predictor.predict(image)
    assert pred.labels.shape == (700, 900)
    acc = IoUAccumulator(1)
    acc.add(pred.labels, mask)
    assert acc.mean() > 0.8, acc.mean()


def test_predict_rejects_non_rgb(disc_model):
    with pytest.raises(ValueError, match="uint8"):
        Predictor(disc_model, "cpu").predict(np.zeros((10, 10), np.float32))


def test_model_file_from_engine_0_1_loads_with_its_concat_decoder(tmp_path):
    """Files written before ``skip_convs`` existed have no such key and a concat decoder
    (nor ``pixel_paths``: no pixel paths)."""
    from safetensors.torch import load_file, save_file

    from engine.io.labels import ClassInfo
    from engine.nn.model import HeadConfig, SegModel

    old = SegModel([ClassInfo(1, "disc")], HeadConfig(skip_convs="concat", pixel_paths="none"),
                   metadata={"input_size": 128})
    torch_state = old.trainable_state()
    path = tmp_path / "old.safetensors"
    save_model(old, path)
    header = read_header(path)
    del header["head"]["skip_convs"]
    del header["head"]["pixel_paths"]
    save_file(load_file(str(path)), str(path), metadata={"distillfss": json.dumps(header)})
    loaded = load_model(path)
    assert loaded.config.skip_convs == "concat" and loaded.pixel is None
    for k, v in loaded.trainable_state().items():
        np.testing.assert_array_equal(v.numpy(), torch_state[k].numpy())
    image, _ = make_sample(np.random.default_rng(1))
    a = Predictor(old, "cpu").predict(image)
    b = Predictor(loaded, "cpu").predict(image)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_confidence_score_looks_at_predicted_and_unsure_pixels_only():
    labels = np.zeros((10, 10), np.uint8)
    conf = np.full((10, 10), 0.99, np.float32)
    assert Prediction(labels, conf).confidence_score == 1.0  # nothing found, nothing unsure
    labels[:2] = 1          # 20 pixels predicted as the class, fairly sure
    conf[:2] = 0.9
    conf[5, :5] = 0.6       # 5 background pixels the model is unsure of
    score = Prediction(labels, conf).confidence_score
    assert score == pytest.approx((20 * 0.9 + 5 * 0.6) / 25)
    # the whole-image mean hides the doubt in 75 easy background pixels
    assert Prediction(labels, conf).mean_confidence > score + 0.1
