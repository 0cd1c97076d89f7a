"""The image being edited: pixels, its MaskDocument, its prediction, and saving (Qt-free)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.saver import Saver
from engine.edit.document import MaskDocument
from engine.io.images import ImageReadError, read_image
from engine.io.labels import NOT_PAINTED, has_painting
from engine.io.project import ImageState, Project


@dataclass
class CurrentImage:
    """One opened image.  ``rgb`` is None (and ``error`` set) when it cannot be read."""

    name: str
    rgb: np.ndarray | None
    document: MaskDocument | None
    prediction: np.ndarray | None
    error: str = ""
    saved_revision: int = 0
    confidence: np.ndarray | None = None
    loaded_state: ImageState | None = None  # the image's state when it was opened

    @classmethod
    def load(cls, project: Project, name: str,
             unsaved: dict[str, tuple[np.ndarray, ImageState]] | None = None) -> CurrentImage:
        """Read image ``name`` with its human label; a predicted image starts from its
        prediction so that painting corrects it, an image with neither from nothing painted
        (``NOT_PAINTED``).  ``unsaved`` (``Saver.unsaved``): labels whose write failed, used
        instead of the file."""
        try:
            rgb = read_image(project.image_path(name))
        except (ImageReadError, OSError, ValueError) as exc:
            return cls(name, None, None, None, error=str(exc))
        shape = rgb.shape[:2]
        prediction = _fit(_try(project.load_prediction, name), shape)
        kept = (unsaved or {}).get(name)
        label = _fit(kept[0].copy() if kept else _try(project.load_label, name), shape)
        if label is None:
            label = (prediction.copy() if prediction is not None
                     else np.full(shape, NOT_PAINTED, np.uint8))
        doc = MaskDocument(label)
        return cls(name, rgb, doc, prediction, saved_revision=doc.revision - bool(kept),
                   loaded_state=project.state(name))

    @property
    def dirty(self) -> bool:
        """True when the labels changed since the last save."""
        return self.document is not None and self.document.revision != self.saved_revision

    def save(self, project: Project, saver: Saver, state: ImageState | None = None) -> bool:
        """Queue writing the human label when it changed (or when ``state`` is given);
        return True when something was queued."""
        if self.document is None or project.read_only or (state is None and not self.dirty):
            return False
        labels = self.document.labels
        self.saved_revision = self.document.revision
        if (state is None and not has_painting(labels)
                and self.loaded_state == ImageState.UNLABELLED):
            # Painted and fully erased (or undone) on an image that was unlabelled when
            # opened: nothing to keep.  Strokes saved meanwhile made it an example: undo that.
            if project.state(self.name) == ImageState.UNLABELLED:
                return False
            saver.clear_label(project, self.name, ImageState.UNLABELLED)
            return True
        saver.save_label(project, self.name, labels, state)
        return True


def _try(fn: object, name: str) -> np.ndarray | None:
    try:
        return fn(name)  # type: ignore[operator]
    except (ImageReadError, OSError, ValueError):
        return None


def _fit(labels: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """Drop a mask whose size does not match the image (e.g. the image was replaced)."""
    if labels is None or labels.shape != shape:
        return None
    return labels
