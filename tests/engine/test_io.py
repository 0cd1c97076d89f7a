"""engine.io.images: every odd file a user has reads right or fails with one clear line."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from odd_files import H, W, gradient_rgb, make_big_jpeg, make_odd_folder
from PIL import Image

from engine.io import images as io
from engine.io.images import (
    ImageReadError,
    MultiPageWarning,
    atomic_write,
    display_name,
    list_images,
    read_image,
    read_image_preview,
    read_image_size,
    read_mask,
    write_png_atomic,
)

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    folder = tmp_path_factory.mktemp("odd")
    return folder, make_odd_folder(folder)


def _ids(files: list) -> list[str]:
    return [display_name(f.path.name) for f in files]


def test_every_odd_file_reads_or_fails_with_one_line(odd_folder: tuple[Path, list]) -> None:
    _, files = odd_folder
    for f in files:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if f.error is not None:
                with pytest.raises(ImageReadError) as exc:
                    read_image(f.path)
                msg = str(exc.value)
                assert f.error in msg and display_name(f.path.name) in msg, msg
                assert "\n" not in msg
                msg.encode("utf-8")  # printable even for undecodable names
                continue
            arr = read_image(f.path)
        assert arr.dtype == np.uint8 and arr.shape == (*f.shape, 3), f.path
        assert arr.flags.c_contiguous
        assert read_image_size(f.path) == (f.shape[1], f.shape[0]), f.path
        assert any(issubclass(w.category, MultiPageWarning) for w in caught) == f.warns, f.path


def test_list_images_lists_odd_names_and_skips_hidden(odd_folder: tuple[Path, list]) -> None:
    folder, files = odd_folder
    (folder / ".hidden.png").write_bytes(b"x")
    (folder / "notes.txt").write_text("x")
    (folder / "UPPER.PNG").write_bytes(b"")
    listed = list_images(folder)
    assert listed == sorted(listed)
    assert {p.name for p in listed} == {f.path.name for f in files} | {"UPPER.PNG"}


def test_exif_rotation_matches_viewer(odd_folder: tuple[Path, list]) -> None:
    folder, _ = odd_folder
    arr = read_image(folder / "exif_rotated.jpg").astype(int)
    ref = np.rot90(gradient_rgb(), -1).astype(int)  # orientation 6 = 90 degrees clockwise
    assert np.abs(arr - ref).mean() < 4


@pytest.mark.parametrize("name", ["cmyk.jpg", "rgba.png", "palette.png", "bitmap.bmp",
                                  "lossless.webp", "progressive.jpg"])
def test_colour_formats_keep_colours(odd_folder: tuple[Path, list], name: str) -> None:
    folder, _ = odd_folder
    arr = read_image(folder / name).astype(int)
    assert np.abs(arr - gradient_rgb().astype(int)).mean() < 12, name


@pytest.mark.parametrize("name", ["rgb16.png", "rgb16.tif"])
def test_16bit_colour_is_stretched_not_truncated(odd_folder: tuple[Path, list], name: str) -> None:
    folder, _ = odd_folder
    arr = read_image(folder / name).astype(int)
    ref = gradient_rgb().astype(int)
    assert arr.min() == 0 and arr.max() == 255
    assert np.corrcoef(arr.ravel(), ref.ravel())[0, 1] > 0.99


def test_percentile_stretch_ignores_outliers_and_nan(tmp_path: Path) -> None:
    data = np.tile(np.linspace(100.0, 200.0, 100, dtype=np.float32), (100, 1))
    data[0, 0], data[0, 1], data[0, 2] = 1e9, np.nan, -np.inf
    tifffile.imwrite(tmp_path / "f.tif", data)
    arr = read_image(tmp_path / "f.tif")[..., 0]
    assert arr[50, 0] == 0 and arr[50, -1] == 255          # outlier did not squash the range
    assert arr[0, 1] == 0 and arr[0, 0] == 255 and arr[0, 2] == 0
    assert 100 < arr[50, 50] < 155


def test_tiff_orientation_tag_applied(tmp_path: Path) -> None:
    rgb = gradient_rgb()
    tifffile.imwrite(tmp_path / "o.tif", rgb, photometric="rgb", extratags=[(274, 3, 1, 8, True)])
    assert read_image_size(tmp_path / "o.tif") == (H, W)
    assert np.array_equal(read_image(tmp_path / "o.tif"), np.rot90(rgb, 1))


def test_tiff_with_codec_tifffile_lacks_falls_back_to_pillow(tmp_path: Path) -> None:
    Image.fromarray(gradient_rgb()).save(tmp_path / "lzw.tif", compression="tiff_lzw")
    Image.fromarray(gradient_rgb()).save(tmp_path / "jpeg.tif", compression="jpeg")
    assert np.array_equal(read_image(tmp_path / "lzw.tif"), gradient_rgb())
    assert read_image(tmp_path / "jpeg.tif").shape == (H, W, 3)


def test_big_image_size_is_cheap_and_preview_is_small(tmp_path: Path) -> None:
    big = make_big_jpeg(tmp_path / "big.jpg").path
    t0 = time.perf_counter()
    assert read_image_size(big) == (12000, 9000)
    assert time.perf_counter() - t0 < 0.5
    prev = read_image_preview(big, 1024)
    assert prev.shape == (768, 1024, 3) and prev.dtype == np.uint8
    assert abs(int(prev[300, 400, 0]) - 200) < 8 and abs(int(prev[10, 10, 0]) - 90) < 8


@pytest.mark.slow
def test_big_image_reads_in_full(tmp_path: Path) -> None:
    big = make_big_jpeg(tmp_path / "big.jpg").path
    arr = read_image(big)
    assert arr.shape == (9000, 12000, 3)
    assert arr[3000, 4000, 0] > 180 and arr[100, 100, 0] < 110


def test_preview_of_small_image_is_not_upscaled(odd_folder: tuple[Path, list]) -> None:
    folder, _ = odd_folder
    assert read_image_preview(folder / "rgb16.tif", 4000).shape == (H, W, 3)
    assert read_image_preview(folder / "rgb16.tif", 32).shape == (24, 32, 3)
    with pytest.raises(ValueError):
        read_image_preview(folder / "rgb16.tif", 0)


def test_size_cap_is_documented_and_pillow_guard_raised() -> None:
    assert io.MAX_IMAGE_PIXELS == 20000 * 20000
    assert Image.MAX_IMAGE_PIXELS == io.MAX_IMAGE_PIXELS


def test_read_mask_variants(tmp_path: Path) -> None:
    m = np.zeros((10, 12), np.uint8)
    m[2:5, 3:7] = 255
    Image.fromarray(m).save(tmp_path / "bin.png")
    assert set(np.unique(read_mask(tmp_path / "bin.png"))) == {0, 1}
    write_png_atomic(tmp_path / "pal.png", (m > 0).astype(np.uint8) * 2, [(0, 0, 0)] * 3)
    assert read_mask(tmp_path / "pal.png").max() == 2
    Image.fromarray(m).convert("LA").save(tmp_path / "la.png")
    assert read_mask(tmp_path / "la.png").max() == 1
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty file"):
        read_mask(tmp_path / "empty.png")


def test_real_dataset_masks_read_binary() -> None:
    folder = DATASETS / "nuclei_dsb2018" / "masks"
    if not folder.is_dir():  # no shared datasets beside this clone: the bundled CC0 masks
        folder = Path(__file__).resolve().parents[2] / "resources" / "demo" / "nuclei" / "masks"
    masks = sorted(folder.glob("*.png"))[:5]
    assert masks
    for mask in masks:
        assert set(np.unique(read_mask(mask))) <= {0, 1}


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")

    def failing(f: object) -> None:
        f.write(b"partial")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(target, failing)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.json"]  # temp file cleaned up
