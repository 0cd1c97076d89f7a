"""engine.io.formats: mask -> each format -> mask keeps every pixel, holes and components
included."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from engine.io.formats import (
    EXPORT_FORMATS,
    FormatError,
    Sample,
    export_labels,
    import_coco,
    import_labelme,
    import_labels,
    import_yolo,
)
from engine.io.formats.geometry import instances
from engine.io.formats.yolo import parse_names
from engine.io.images import read_mask, write_png_atomic

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
CLASSES = [{"id": 1, "name": "nucleus", "color": [255, 0, 0]},
           {"id": 2, "name": "weed: tall \"one\"", "color": [0, 255, 0]}]


DEMO_MASKS = Path(__file__).resolve().parents[2] / "resources" / "demo" / "nuclei" / "masks"


def _real_masks() -> list[Path]:
    """Real masks with holes and many components: the shared sets, else the bundled demo."""
    if not DATASETS.is_dir():
        return sorted(DEMO_MASKS.glob("*.png"))[::3]
    out = []
    for d in sorted(DATASETS.iterdir()):
        out += sorted((d / "masks").glob("*.png"))[:40:13] if (d / "masks").is_dir() else []
    return out


def nested_map() -> np.ndarray:
    """Class 1 ring around a hole holding a class 2 ring around a class 1 dot, plus extras."""
    lab = np.zeros((60, 80), np.uint8)
    lab[5:55, 5:55] = 1
    lab[10:50, 10:50] = 0
    lab[15:45, 15:45] = 2
    lab[20:40, 20:40] = 0
    lab[27:33, 27:33] = 1
    lab[2:4, 60:79] = 2                       # thin bar
    lab[40, 60], lab[41, 61], lab[42, 62] = 1, 1, 1  # diagonal chain: one component
    lab[59, 79] = 1                           # corner pixel
    lab[30:40, 65:75] = 1
    lab[34:36, 69:71] = 0                     # small hole
    return lab


def _write_images(folder: Path, maps: dict[str, np.ndarray]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for stem, lab in maps.items():
        paths[stem] = folder / f"{stem}.jpg"
        Image.fromarray(np.zeros((*lab.shape, 3), np.uint8)).save(paths[stem])
    return paths


def _round_trip(fmt: str, maps: dict[str, np.ndarray], tmp: Path) -> dict[str, np.ndarray]:
    images = _write_images(tmp / "images", maps)
    samples = [Sample(s, m, images[s]) for s, m in maps.items()]
    export_labels(fmt, samples, CLASSES, tmp / "out", image_folder=tmp / "images")
    got = import_labels(fmt, tmp / "out", image_folder=tmp / "images")
    assert not got.notes, got.notes
    if fmt != "png":  # names survive; ids are given in order of appearance
        names = {c["id"]: c["name"] for c in CLASSES}
        lut = np.zeros(256, np.uint8)
        for new_id, name in got.classes.items():
            lut[new_id] = next(k for k, v in names.items() if v == name)
        return {s: lut[m] for s, m in got.masks.items()}
    return got.masks


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a > 0, b > 0).sum()
    return 1.0 if union == 0 else np.logical_and(a > 0, b > 0).sum() / union


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_nested_multiclass_round_trip_is_exact(fmt: str, tmp_path: Path) -> None:
    lab = nested_map()
    maps = {"nested": lab, "empty": np.zeros((7, 9), np.uint8), "odd name é": lab[::-1].copy()}
    got = _round_trip(fmt, maps, tmp_path)
    assert set(got) == set(maps)
    for stem, expected in maps.items():
        assert np.array_equal(got[stem], expected), (fmt, stem)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_real_masks_round_trip_iou(fmt: str, tmp_path: Path) -> None:
    maps = {p.stem: read_mask(p) for p in _real_masks()}
    holes = sum(1 for m in maps.values()
                for i in instances(m) if cv2.findContours(
                    np.pad(i.mask.astype(np.uint8), 1), cv2.RETR_CCOMP,
                    cv2.CHAIN_APPROX_SIMPLE)[0].__len__() > 1)
    assert holes > 0 and any(len(instances(m)) > 1 for m in maps.values())
    got = _round_trip(fmt, maps, tmp_path)
    ious = [_iou(got[s], m) for s, m in maps.items()]
    assert min(ious) > 0.98, (fmt, min(ious))
    exact = sum(np.array_equal(got[s], m) for s, m in maps.items())
    assert exact == len(maps), f"{fmt}: {exact}/{len(maps)} exact"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2 copy=
def test_coco_is_valid_for_pycocotools(tmp_path: Path) -> None:
    mask_api = pytest.importorskip("pycocotools.mask")
    coco_api = pytest.importorskip("pycocotools.coco")
    lab = nested_map()
    out = export_labels("coco", [Sample("a", lab, tmp_path / "a.jpg")], CLASSES, tmp_path)
    coco = coco_api.COCO(str(out))
    assert sorted(coco.getCatIds()) == [1, 2]
    ann_ids = coco.getAnnIds(imgIds=[1])
    assert len(ann_ids) == len(instances(lab))
    painted = np.zeros_like(lab)
    kinds = set()
    for ann in coco.loadAnns(ann_ids):
        m = coco.annToMask(ann)
        assert m.sum() == ann["area"]
        assert (painted[m > 0] == 0).all()   # components do not overlap
        painted[m > 0] = ann["category_id"]
        kinds.add(type(ann["segmentation"]).__name__)
        assert list(mask_api.toBbox(coco.annToRLE(ann))) == ann["bbox"]
    assert np.array_equal(painted, lab)
    assert kinds == {"list", "dict"}  # polygons, and RLE for the components with holes


def test_yolo_polygons_work_with_ultralytics_style_rasterising(tmp_path: Path) -> None:
    lab = np.zeros((50, 70), np.uint8)
    lab[5:20, 8:30] = 1
    lab[30:45, 40:41] = 2   # one pixel wide
    lab[25, 5] = 1          # single pixel
    export_labels("yolo", [Sample("a", lab)], CLASSES, tmp_path)
    redrawn = np.zeros_like(lab)
    for line in (tmp_path / "labels" / "a.txt").read_text().splitlines():
        cls, *xy = line.split()
        pts = np.array(xy, float).reshape(-1, 2) * [70, 50]
        cv2.fillPoly(redrawn, [pts.astype(np.int32)], int(cls) + 1)  # as ultralytics polygon2mask
    assert np.array_equal(redrawn, lab)
    assert parse_names((tmp_path / "data.yaml").read_text()) == [c["name"] for c in CLASSES]


@pytest.mark.parametrize("text, names", [
    ("names: [cat, 'dog', \"a b\"]\n", ["cat", "dog", "a b"]),
    ("nc: 2\nnames:\n  - cat\n  - dog\ntrain: x\n", ["cat", "dog"]),
    ("names:\n  1: dog\n  0: cat\nval: y\n", ["cat", "dog"]),
    ("train: x\n", []),
])
def test_parse_yolo_names(text: str, names: list[str]) -> None:
    assert parse_names(text) == names


def test_labelme_file_paints_right_with_labelmes_own_rule(tmp_path: Path) -> None:
    lab = nested_map()
    export_labels("labelme", [Sample("a", lab, tmp_path / "img" / "a.jpg")], CLASSES, tmp_path)
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["imagePath"] == "img/a.jpg"
    assert (data["imageHeight"], data["imageWidth"]) == lab.shape
    names = {c["name"]: c["id"] for c in CLASSES} | {"_background_": 0}
    im = Image.new("L", (lab.shape[1], lab.shape[0]), 0)
    for shape in data["shapes"]:  # labelme.utils.shape_to_mask: PIL polygon, in file order
        mask = Image.new("1", im.size, 0)
        ImageDraw.Draw(mask).polygon([tuple(p) for p in shape["points"]], outline=1, fill=1)
        im.paste(names[shape["label"]], mask=mask)
    assert np.array_equal(np.asarray(im), lab)


def test_importers_read_foreign_shapes(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(json.dumps({
        "imagePath": "..\\photos\\x.jpg", "imageHeight": 20, "imageWidth": 30, "shapes": [
            {"label": "box", "shape_type": "rectangle", "points": [[2, 3], [5, 6]]},
            {"label": "dot", "shape_type": "circle", "points": [[20, 10], [23, 10]]},
            {"label": "line", "shape_type": "linestrip", "points": [[0, 0], [5, 5]]}]}))
    got = import_labelme(tmp_path / "x.json")
    m = got.masks["x"]
    assert (m[3:7, 2:6] == 1).all() and m[3:7, 2:6].sum() == (m == 1).sum()  # inclusive, as PIL
    assert m[10, 20] == 2 and m[10, 22] == 2 and m[10, 25] == 0
    assert got.classes == {1: "box", 2: "dot"} and len(got.notes) == 1


def test_coco_uncompressed_rle_and_unknown_image(tmp_path: Path) -> None:
    data = {"images": [{"id": 7, "file_name": "sub/dir/p.png", "width": 3, "height": 2}],
            "categories": [{"id": 90, "name": "thing"}],
            "annotations": [
                {"image_id": 7, "category_id": 90, "segmentation": {"size": [2, 3],
                                                                     "counts": [1, 2, 3]}},
                {"image_id": 8, "category_id": 90, "segmentation": [[0, 0, 1, 0, 1, 1]]}]}
    (tmp_path / "c.json").write_text(json.dumps(data))
    got = import_coco(tmp_path / "c.json")
    assert np.array_equal(got.masks["p"], [[0, 1, 0], [1, 0, 0]])
    assert got.classes == {1: "thing"} and len(got.notes) == 1


def test_yolo_boxes_and_missing_images(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.5 0.5\n3 bad line\n")
    (tmp_path / "labels" / "nope.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    write_png_atomic(tmp_path / "images" / "a.png", np.zeros((10, 20), np.uint8))
    got = import_yolo(tmp_path)
    assert got.masks["a"].sum() == 5 * 10 and got.masks["a"][5, 10] == 1
    assert "nope" not in got.masks and len(got.notes) == 2


def test_import_errors_are_format_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(FormatError, match="bad.json"):
        import_coco(tmp_path / "bad.json")
    with pytest.raises(FormatError, match="not found"):
        import_labels("labelme", tmp_path / "missing")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(FormatError, match="not a COCO file"):
        import_coco(tmp_path / "list.json")


def test_export_is_atomic_no_temp_files_left(tmp_path: Path) -> None:
    for fmt in EXPORT_FORMATS:
        export_labels(fmt, [Sample("a", nested_map())], {1: "a", 2: "b"}, tmp_path / fmt)
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers
    assert os.path.exists(tmp_path / "coco" / "annotations.json")
    assert (tmp_path / "yolo" / "data.yaml").exists() and (tmp_path / "labelme" / "a.json").exists()


# -- distillfss export / import --------------------------------------------------------------
def _cli(*argv: str) -> int:
    import argparse

    from engine.cli.formats import register

    parser = argparse.ArgumentParser(prog="distillfss")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def _project_with_labels(folder: Path, maps: dict[str, np.ndarray]) -> None:
    from engine.io.project import Project

    _write_images(folder, maps)
    project = Project.open(folder)
    project.add_class("nucleus")
    project.add_class("weed")
    for stem, lab in maps.items():
        if lab.any():
            project.save_label(f"{stem}.jpg", lab)
    project.close()


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_cli_export_then_import_into_a_fresh_project(fmt: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    from engine.io.project import Project

    maps = {"a": nested_map(), "b c": nested_map()[:, ::-1].copy(), "none": np.zeros((60, 80),
                                                                                     np.uint8)}
    _project_with_labels(tmp_path / "src", maps)
    assert _cli("export", "--project", str(tmp_path / "src"), "--format", fmt,
                "--out", str(tmp_path / "out")) == 0
    assert "exported 2 labels" in capsys.readouterr().out
    _write_images(tmp_path / "dst", maps)
    code = _cli("import", "--format", fmt, "--input", str(tmp_path / "out"),
                "--project", str(tmp_path / "dst"))
    assert code == 0, capsys.readouterr().err
    project = Project.open(tmp_path / "dst", read_only=True)
    assert [c.name for c in project.classes] == ["nucleus", "weed"]
    for stem in ("a", "b c"):
        assert np.array_equal(project.load_label(f"{stem}.jpg"), maps[stem]), (fmt, stem)
        assert project.state(f"{stem}.jpg").value == "support"
    assert project.load_label("none.jpg") is None


def test_cli_import_skips_with_one_line_each_and_exit_3(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    masks = tmp_path / "masks"
    write_png_atomic(masks / "a.png", nested_map())
    write_png_atomic(masks / "small.png", np.ones((5, 5), np.uint8))
    write_png_atomic(masks / "stranger.png", np.ones((5, 5), np.uint8))
    (masks / "broken.png").write_bytes(b"not a png")
    _project_with_labels(tmp_path / "p", {"a": np.zeros((60, 80), np.uint8),
                                          "small": np.zeros((6, 6), np.uint8)})
    assert _cli("import", "--format", "png", "--input", str(masks),
                "--project", str(tmp_path / "p")) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3, err
    assert any("broken.png" in e for e in err) and any("stranger" in e for e in err)
    assert any("small.jpg" in e and "5x5" in e for e in err)
    capsys.readouterr()
    assert _cli("import", "--format", "png", "--input", str(masks / "a.png"),
                "--project", str(tmp_path / "p")) == 3   # already labelled: kept
    assert "--overwrite" in capsys.readouterr().err


def test_cli_export_without_project_fails_cleanly(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    assert _cli("export", "--project", str(tmp_path), "--format", "coco",
                "--out", str(tmp_path / "o")) == 1
    assert "no DistillFSS project" in capsys.readouterr().err


def test_count_instances_and_write_format_reports_each_sample(tmp_path: Path) -> None:
    from engine.io.formats import count_instances
    from engine.io.formats.exchange import write_format
    from engine.io.formats.geometry import instances
    from engine.io.images import write_png_atomic

    labels = np.zeros((40, 50), np.uint8)
    labels[2:8, 2:8] = 1
    labels[20:30, 20:30] = 1
    labels[23:26, 23:26] = 0  # a hole: still one object
    labels[10:15, 30:45] = 2
    assert count_instances(labels) == len(instances(labels)) == 3
    masks = {}
    for stem in ("a", "b"):
        write_png_atomic(tmp_path / f"{stem}.png", labels)
        masks[stem] = (None, tmp_path / f"{stem}.png")
    seen: list[str] = []
    notes = write_format("coco", masks, {1: "x", 2: "y"}, tmp_path / "out",
                         on_sample=lambda s: seen.append(s.stem))
    assert notes == [] and seen == ["a", "b"]


def _coco_in_memory(samples: list[Sample], classes, segmentation: str) -> str:
    """The COCO writer before it streamed: the whole document in memory, one json.dumps."""
    from engine.io.formats.coco import coco_annotation
    from engine.io.formats.common import ClassBook, dump_json

    book = ClassBook(classes)
    images, annotations = [], []
    for image_id, s in enumerate(samples, start=1):
        h, w = s.labels.shape
        images.append({"id": image_id, "file_name": s.image_name, "width": w, "height": h})
        for inst in instances(s.labels):
            book.index(inst.class_id)
            ann = coco_annotation(inst, (h, w), segmentation)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
    return dump_json({"info": {"description": "exported by DistillFSS Studio"},
                      "images": images, "annotations": annotations,
                      "categories": [{"id": k, "name": v, "supercategory": ""}
                                     for k, v in sorted(book.names.items())]})


@pytest.mark.parametrize("segmentation", ["auto", "rle"])
def test_streamed_coco_is_the_same_text_as_the_in_memory_one(tmp_path: Path,
                                                             segmentation: str) -> None:
    from engine.io.formats.coco import export_coco

    lab = nested_map()
    third = np.zeros((20, 30), np.uint8)
    third[3:9, 4:20] = 7  # a class the list does not name
    samples = [Sample("a", lab, tmp_path / "a.jpg"), Sample("empty", np.zeros((5, 6), np.uint8)),
               Sample("ü \"q\"", third, tmp_path / "ü \"q\".png")]
    samples += [Sample(p.stem, read_mask(p), p) for p in _real_masks()[:4]]
    for case, items in (("all", samples), ("none", []), ("no annotations", samples[1:2])):
        out = tmp_path / case
        path = export_coco(iter(items), CLASSES, out, segmentation=segmentation)
        assert path.read_text(encoding="ascii") == _coco_in_memory(items, CLASSES,
                                                                   segmentation), case
        assert not [p.name for p in out.iterdir() if p.name != "annotations.json"]
