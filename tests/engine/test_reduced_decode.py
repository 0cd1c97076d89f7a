"""Large JPEGs are decoded at reduced size when the predictor shrinks them anyway
(``engine.io.images.read_image_reduced``, ``Predictor.decode_long_side``), with the same labels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from synthetic import make_sample

import engine.infer.batch as batch_module
from engine.infer.batch import label_folder
from engine.infer.predict import Predictor
from engine.io.images import read_image, read_image_reduced, read_mask


def _photo(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A large image of bright discs (and its mask): the 128 px synthetic sample scaled up."""
    img, mask = make_sample(np.random.default_rng(seed), h=h // 8, w=w // 8)
    big = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    return big, cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)


def test_large_jpeg_is_decoded_reduced_with_its_full_size(tmp_path: Path) -> None:
    img, _ = _photo(1200, 1600)
    Image.fromarray(img).save(tmp_path / "p.jpg", quality=95)
    pixels, size = read_image_reduced(tmp_path / "p.jpg", 384)
    assert size == (1200, 1600)
    assert pixels.shape == (300, 400, 3) and pixels.dtype == np.uint8  # 1/4 scale
    full = read_image(tmp_path / "p.jpg")
    shrunk = cv2.resize(full, (400, 300), interpolation=cv2.INTER_AREA)
    assert np.abs(pixels.astype(int) - shrunk).mean() < 3
    # Not reduced below the asked long side, nor when the image is less than twice it.
    assert read_image_reduced(tmp_path / "p.jpg", 500)[0].shape == (600, 800, 3)
    assert read_image_reduced(tmp_path / "p.jpg", 801)[0].shape == (1200, 1600, 3)


def test_other_formats_and_rotated_jpegs(tmp_path: Path) -> None:
    img, _ = _photo(1200, 1600)
    Image.fromarray(img).save(tmp_path / "p.png")
    pixels, size = read_image_reduced(tmp_path / "p.png", 384)
    assert size == (1200, 1600) and np.array_equal(pixels, img)
    im = Image.fromarray(img)
    exif = im.getexif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    im.save(tmp_path / "r.jpg", exif=exif, quality=95)
    pixels, size = read_image_reduced(tmp_path / "r.jpg", 384)
    assert size == (1600, 1200) and pixels.shape == (400, 300, 3)
    upright = cv2.resize(read_image(tmp_path / "r.jpg"), (300, 400), interpolation=cv2.INTER_AREA)
    assert np.abs(pixels.astype(int) - upright).mean() < 3
    with pytest.raises(ValueError):
        read_image_reduced(tmp_path / "p.png", 0)


def test_label_folder_decodes_large_jpegs_reduced_with_the_same_labels(disc_model,
                                                                     tmp_path: Path,
                                                                     monkeypatch) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    masks = {}
    for i in range(3):
        img, mask = _photo(1024, 1536, seed=30 + i)
        Image.fromarray(img).save(folder / f"p{i}.jpg", quality=95)
        masks[f"p{i}"] = mask
    pr = Predictor(disc_model, "cpu")
    # Supports of the photos' size (camera folders): the photos are resized, not tiled.
    pr.reference_long_side = 1536
    assert pr.decode_long_side(1024, 1536) == 2 * pr.input_size
    decoded = []
    real = batch_module.read_image_reduced

    def spy(path, long_side):
        out = real(path, long_side)
        decoded.append(out[0].shape[:2])
        return out

    monkeypatch.setattr(batch_module, "read_image_reduced", spy)
    out = tmp_path / "out"
    recs = list(label_folder(pr, sorted(folder.iterdir()), out))
    assert [r.status for r in recs] == ["labelled"] * 3
    assert decoded == [(256, 384)] * 3  # 1/4 scale decodes: long side 384 >= 2 x 128
    for i in range(3):
        labels = read_mask(out / f"p{i}.png")
        assert labels.shape == (1024, 1536)
        full = pr.predict(read_image(folder / f"p{i}.jpg")).labels
        assert (labels == full).mean() > 0.995
        inter = np.logical_and(labels > 0, masks[f"p{i}"] > 0).sum()
        union = np.logical_or(labels > 0, masks[f"p{i}"] > 0).sum()
        assert inter / union > 0.8  # the discs are found (at 2/3 of their trained size)


def test_tiled_images_are_decoded_in_full(disc_model, tmp_path: Path, monkeypatch) -> None:
    img, _ = _photo(600, 900)
    Image.fromarray(img).save(tmp_path / "big.jpg", quality=95)
    pr = Predictor(disc_model, "cpu")  # supports of 128 px: a 900 px image is tiled
    assert pr.is_tiled(600, 900) and pr.decode_long_side(600, 900) is None
    decoded = []
    real = batch_module.read_image_reduced
    monkeypatch.setattr(batch_module, "read_image_reduced",
                        lambda p, s: decoded.append(real(p, s)[0].shape[:2]) or real(p, s))
    list(label_folder(pr, [tmp_path / "big.jpg"], tmp_path / "out"))
    assert decoded == [(600, 900)]
    with pytest.raises(ValueError, match="full size"):
        pr.predict_batch([img[::2, ::2]], sizes=[(600, 900)])


def test_the_decode_size_may_be_chosen_from_the_header(tmp_path: Path) -> None:
    img, _ = _photo(1200, 1600)
    Image.fromarray(img).save(tmp_path / "p.jpg", quality=95)
    seen = []

    def side(h: int, w: int) -> int | None:
        seen.append((h, w))
        return 384

    assert read_image_reduced(tmp_path / "p.jpg", side)[0].shape == (300, 400, 3)
    assert seen == [(1200, 1600)]
    pixels, size = read_image_reduced(tmp_path / "p.jpg", lambda h, w: None)
    assert pixels.shape == (1200, 1600, 3) and size == (1200, 1600)


def test_png_size_and_reduced_read_do_not_decode_it_twice(tmp_path: Path, monkeypatch) -> None:
    from PIL import PngImagePlugin

    from engine.io.images import read_image_size

    img, _ = _photo(1200, 1600)
    Image.fromarray(img).save(tmp_path / "p.png")
    loads = []
    real = PngImagePlugin.PngImageFile.load
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load",
                        lambda self: loads.append(1) or real(self))
    assert read_image_size(tmp_path / "p.png") == (1600, 1200)
    assert loads == []  # the header only
    read_image(tmp_path / "p.png")
    plain_loads, loads[:] = len(loads), []
    pixels, size = read_image_reduced(tmp_path / "p.png", 384)
    assert size == (1200, 1600) and pixels.shape == (1200, 1600, 3)
    assert len(loads) == plain_loads  # no more than read_image does
