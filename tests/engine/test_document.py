"""MaskDocument: painting, filling and per-stroke undo, without Qt."""

from __future__ import annotations

import numpy as np
import pytest

from engine.edit.document import MaskDocument


def test_paint_disc_sets_label_inside_radius() -> None:
    doc = MaskDocument.empty((50, 60))
    region = doc.paint((30, 20), 5, 2)
    assert region is not None
    assert doc.labels[20, 30] == 2
    assert doc.labels[20, 34] == 2
    assert doc.labels[20, 37] == 0
    assert doc.labels[0, 0] == 0
    assert set(np.unique(doc.labels)) == {0, 2}


def test_labels_view_is_read_only() -> None:
    doc = MaskDocument.empty((4, 4))
    with pytest.raises(ValueError):
        doc.labels[0, 0] = 1


def test_one_undo_step_per_stroke() -> None:
    doc = MaskDocument.empty((100, 100))
    doc.begin_stroke()
    doc.paint_line((10, 10), (90, 10), 3, 1)
    doc.paint_line((90, 10), (90, 90), 3, 1)
    assert doc.end_stroke()
    doc.paint((50, 50), 4, 2)  # its own step
    assert doc.labels[50, 50] == 2
    doc.undo()
    assert doc.labels[50, 50] == 0 and doc.labels[10, 50] == 1
    doc.undo()
    assert not doc.labels.any()
    assert not doc.can_undo
    doc.redo()
    assert doc.labels[10, 50] == 1 and doc.labels[90, 90] == 1
    doc.redo()
    assert doc.labels[50, 50] == 2
    assert not doc.can_redo


def test_new_stroke_clears_redo() -> None:
    doc = MaskDocument.empty((20, 20))
    doc.paint((5, 5), 2, 1)
    doc.undo()
    assert doc.can_redo
    doc.paint((10, 10), 2, 1)
    assert not doc.can_redo


def test_stroke_without_change_adds_no_step() -> None:
    doc = MaskDocument.empty((20, 20))
    doc.begin_stroke()
    doc.erase((5, 5), 3)
    assert not doc.end_stroke()
    assert not doc.can_undo


def test_erase() -> None:
    doc = MaskDocument(np.ones((20, 20), np.uint8))
    doc.erase((10, 10), 2)
    assert doc.labels[10, 10] == 0 and doc.labels[0, 0] == 1


def test_flood_fill_stops_at_other_labels() -> None:
    labels = np.zeros((30, 30), np.uint8)
    labels[:, 15] = 1  # a wall
    doc = MaskDocument(labels)
    doc.flood_fill((3, 3), 2)
    assert (doc.labels[:, :15] == 2).all()
    assert (doc.labels[:, 15] == 1).all()
    assert (doc.labels[:, 16:] == 0).all()
    doc.undo()
    assert (doc.labels == labels).all()


def test_fill_polygon() -> None:
    doc = MaskDocument.empty((40, 40))
    doc.fill_polygon([(5, 5), (30, 5), (30, 30), (5, 30)], 3)
    assert doc.labels[20, 20] == 3 and doc.labels[2, 2] == 0 and doc.labels[35, 35] == 0
    assert doc.fill_polygon([(1, 1), (2, 2)], 3) is None


def test_paint_outside_is_ignored() -> None:
    doc = MaskDocument.empty((10, 10))
    assert doc.paint((-50, -50), 3, 1) is None
    assert not doc.can_undo


def test_replace_is_undoable() -> None:
    doc = MaskDocument.empty((10, 12))
    new = np.full((10, 12), 4, np.uint8)
    doc.replace(new)
    assert (doc.labels == 4).all()
    doc.undo()
    assert not doc.labels.any()
    with pytest.raises(ValueError):
        doc.replace(np.zeros((3, 3), np.uint8))


def test_listener_gets_changed_region() -> None:
    doc = MaskDocument.empty((600, 600))
    seen: list[tuple[int, int, int, int]] = []
    doc.add_listener(seen.append)
    doc.paint((300, 300), 10, 1)
    y0, y1, x0, x1 = seen[-1]
    assert y0 <= 290 and y1 >= 311 and x0 <= 290 and x1 >= 311
    doc.undo()
    assert len(seen) == 2
    rev = doc.revision
    doc.remove_listener(seen.append)
    doc.redo()
    assert len(seen) == 2 and doc.revision == rev + 1


def test_undo_keeps_only_touched_tiles_on_large_map() -> None:
    doc = MaskDocument.empty((3000, 4000))
    doc.paint((100, 100), 5, 1)
    step = doc._undo[-1]
    assert len(step.before) == 1


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        MaskDocument(np.zeros((2, 2, 3), np.uint8))
    doc = MaskDocument.empty((5, 5))
    with pytest.raises(ValueError):
        doc.paint((1, 1), 1, 300)


def test_max_undo_drops_oldest() -> None:
    doc = MaskDocument.empty((10, 10), max_undo=2)
    for label in (1, 2, 3):
        doc.paint((5, 5), 1, label)
    assert doc.undo() and doc.undo()
    assert doc.undo() is None
    assert doc.labels[5, 5] == 1
