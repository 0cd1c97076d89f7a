"""Fuzz the readers and importers: damaged input raises only the documented error types.

- image readers: :class:`engine.io.images.ImageReadError`
- label importers: :class:`engine.io.formats.FormatError`, or a note in the result
- RLE strings: ``ValueError``
- the project loader: opens anyway and reports the damage in ``warnings``
"""

from __future__ import annotations

import io as _io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odd_files import gradient_rgb
from PIL import Image

from engine.io.formats import FormatError, import_coco, import_labelme, import_yolo
from engine.io.formats.geometry import fill_polygon, fill_truncated, rle_from_string
from engine.io.images import (
    ImageReadError,
    read_image,
    read_image_preview,
    read_image_size,
    read_mask,
)

FUZZ = settings(max_examples=int(os.environ.get("DISTILLFSS_FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _seed_files() -> list[bytes]:
    rgb = gradient_rgb(24, 32)
    out = []
    for fmt, kw in [("PNG", {}), ("JPEG", {"progressive": True}), ("BMP", {}),
                    ("WEBP", {"lossless": True}), ("TIFF", {"compression": "tiff_lzw"})]:
        buf = _io.BytesIO()
        Image.fromarray(rgb).save(buf, format=fmt, **kw)
        out.append(buf.getvalue())
    buf = _io.BytesIO()
    tifffile.imwrite(buf, np.stack([rgb[..., 0].astype(np.uint16)] * 2), photometric="minisblack")
    out.append(buf.getvalue())
    return out


SEEDS = _seed_files()


@st.composite
def damaged_images(draw: st.DrawFn) -> bytes:
    """A valid file of some format with bytes flipped, cut or inserted, or plain noise."""
    if draw(st.booleans()) and draw(st.booleans()):
        return draw(st.binary(max_size=300))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip":
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos: pos + draw(st.integers(1, 64))]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        if not data:
            break
    return bytes(data)


@FUZZ
@given(data=damaged_images())
def test_image_readers_raise_only_image_read_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.png"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for reader in (read_image, read_image_size, read_mask,
                       lambda p: read_image_preview(p, 16)):
            try:
                reader(path)
            except ImageReadError as exc:
                assert "fuzz.png" in str(exc) and "\n" not in str(exc)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=25)
NUM = st.integers(-5, 40) | st.floats(-1e9, 1e9) | st.text(max_size=3) | st.none()


@st.composite
def coco_like(draw: st.DrawFn) -> object:
    """COCO-shaped JSON with hostile values, or arbitrary JSON."""
    if draw(st.integers(0, 4)) == 0:
        return draw(JSON)
    images = draw(st.lists(st.fixed_dictionaries({
        "id": NUM, "file_name": st.text(max_size=6) | NUM, "width": NUM, "height": NUM}),
        max_size=3))
    segm = (st.lists(st.lists(NUM, max_size=10), max_size=3)
            | st.fixed_dictionaries({"size": st.lists(NUM, max_size=3),
                                     "counts": st.text(max_size=12) | st.lists(NUM, max_size=6)})
            | JSON)
    anns = draw(st.lists(st.fixed_dictionaries({
        "image_id": NUM, "category_id": NUM, "segmentation": segm}), max_size=4))
    cats = draw(st.lists(st.fixed_dictionaries({"id": NUM, "name": NUM}), max_size=3))
    return {"images": images, "annotations": anns, "categories": cats}


@FUZZ
@given(data=coco_like())
def test_coco_import_raises_only_format_error(tmp_path: Path, data: object) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    try:
        got = import_coco(path)
    except FormatError:
        return
    for mask in got.masks.values():
        assert mask.dtype == np.uint8 and mask.ndim == 2


@st.composite
def labelme_like(draw: st.DrawFn) -> object:
    """labelme-shaped JSON with hostile values, or arbitrary JSON."""
    if draw(st.integers(0, 4)) == 0:
        return draw(JSON)
    shape = st.fixed_dictionaries({
        "label": st.text(max_size=5) | NUM,
        "shape_type": st.sampled_from(["polygon", "rectangle", "circle", "point", "x"]) | NUM,
        "points": st.lists(st.lists(NUM, max_size=3), max_size=6) | JSON})
    return {"imagePath": draw(st.text(max_size=6) | NUM),
            "imageHeight": draw(NUM), "imageWidth": draw(NUM),
            "shapes": draw(st.lists(shape, max_size=4) | JSON)}


@FUZZ
@given(data=labelme_like(), raw=st.binary(max_size=40))
def test_labelme_import_raises_only_format_error(tmp_path: Path, data: object,
                                                 raw: bytes) -> None:
    (tmp_path / "a.json").write_text(json.dumps(data))
    (tmp_path / "b.json").write_bytes(raw)
    got = import_labelme(tmp_path)  # a folder: bad files become notes
    assert len(got.masks) <= 2
    for mask in got.masks.values():
        assert mask.dtype == np.uint8 and mask.ndim == 2


@FUZZ
@given(text=st.text(alphabet="0123456789 .-e\ninfa", max_size=200))
def test_yolo_import_raises_nothing_for_any_text(tmp_path: Path, text: str) -> None:
    (tmp_path / "labels").mkdir(exist_ok=True)
    (tmp_path / "labels" / "a.txt").write_text(text)
    got = import_yolo(tmp_path, image_size=lambda stem: (13, 7))
    assert got.masks["a"].shape == (7, 13)


@settings(max_examples=200, deadline=None)
@given(s=st.text(max_size=30))
def test_rle_string_decoder_raises_value_error_only(s: str) -> None:
    try:
        counts = rle_from_string(s)
    except ValueError:
        return
    assert all(isinstance(c, int) for c in counts)


@settings(max_examples=100, deadline=None)
@given(pts=st.lists(st.tuples(st.floats(-1e12, 1e12), st.floats(-1e12, 1e12)), max_size=12))
def test_polygon_fill_never_crashes(pts: list[tuple[float, float]]) -> None:
    canvas = np.zeros((9, 11), np.uint8)
    fill_polygon(canvas, np.array(pts, np.float64).reshape(-1, 2), 3)
    fill_truncated(canvas, np.array(pts, np.float64).reshape(-1, 2), 2)
    assert set(np.unique(canvas)) <= {0, 2, 3}


def test_project_loader_survives_damaged_project_file(tmp_path: Path) -> None:
    project = pytest.importorskip("engine.io.project")

    @FUZZ
    @given(raw=st.binary(max_size=80) | JSON.map(lambda v: json.dumps(v).encode()))
    def check(raw: bytes) -> None:
        folder = tmp_path / "imgs"
        (folder / ".distillfss").mkdir(parents=True, exist_ok=True)
        (folder / ".distillfss" / "project.json").write_bytes(raw)
        try:
            p = project.Project.open(folder)
        except project.ProjectError:
            return
        p.close()

    check()
