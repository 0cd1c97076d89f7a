"""The labelling project on disk: classes, per-image state, human labels and predictions.

Layout (default ``<image folder>/.distillfss/``, or a folder the user chooses when
the image folder is read-only)::

    project.json        schema_version, image_folder, classes [{id, name, color}],
                        images {file name: {state, mean_confidence}}, active_model
    project.json.bak    the last copy of project.json that was read back intact
    labels/<stem>.png   human masks (class indices, palette PNG; 255 = not painted,
                        see engine.io.labels for when unpainted means background)
    predictions/<stem>.png  model output (class indices)
    models/             saved models
    lock                held by the instance that may write

The user's images are never touched.  Every write is atomic (temp file + rename).
A damaged ``project.json`` is reported in :attr:`Project.warnings`, kept aside as
``project.json.damaged`` and the last good copy is loaded instead.  A second
instance finding a live lock opens the project read-only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from .images import ImageReadError, atomic_write, list_images, read_mask, write_png_atomic
from .labels import NOT_PAINTED, ClassInfo, default_color
from .lockfile import acquire_lock

SCHEMA_VERSION = 1
PROJECT_DIRNAME = ".distillfss"
class ImageState(str, Enum):
    """Where one image stands: nothing yet, painted support, model output, human-checked."""

    UNLABELLED = "unlabelled"
    SUPPORT = "support"
    PREDICTED = "predicted"
    REVIEWED = "reviewed"


class ProjectError(RuntimeError):
    """The project folder cannot be used (not writable, locked for writing, ...)."""


class ProjectReadOnlyError(ProjectError):
    """A write was attempted on a project opened read-only."""


class ProjectDirNotWritable(ProjectError):
    """The default project folder cannot be created; ask the user for another one."""


class Project:
    """An open project; create with :meth:`Project.open`, release with :meth:`close`."""

    def __init__(self, image_folder: Path, root: Path, read_only: bool) -> None:
        self.image_folder = image_folder
        self.root = root
        self.read_only = read_only
        self.warnings: list[str] = []
        self.classes: list[ClassInfo] = []
        self.active_model: str | None = None  # file name inside models/
        self.model_info: dict[str, Any] = {}  # summary of the active model (LOO IoU, ...)
        self._images: dict[str, dict[str, Any]] = {}
        self._lock_held = False
        self.images: list[Path] = []

    # -- opening -----------------------------------------------------------------
    @classmethod
    def open(cls, image_folder: str | os.PathLike, project_dir: str | os.PathLike | None = None,
             *, read_only: bool = False) -> Project:
        """Open (or create) the project of ``image_folder``.

        ``project_dir`` defaults to ``<image_folder>/.distillfss``.  Raises
        :class:`ProjectDirNotWritable` when that folder cannot be created and
        ``read_only`` is False; the caller then asks for another folder.
        """
        folder = Path(image_folder).resolve()
        images = list_images(folder)
        root = Path(project_dir) if project_dir is not None else folder / PROJECT_DIRNAME
        project = cls(folder, root.resolve(), read_only)
        if not read_only:
            try:
                for sub in ("labels", "predictions", "models"):
                    (project.root / sub).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ProjectDirNotWritable(f"cannot write the project in {root}: {exc}") from exc
            if not project._acquire_lock():
                project.read_only = True
                project.warnings.append(
                    "This project is open in another DistillFSS window; opened read-only.")
        project.images = images
        project._load()
        if not project.read_only and not (project.root / "project.json").exists():
            project.save()
        return project

    def close(self) -> None:
        """Save and release the lock (safe to call twice; the lock is released even when
        saving raises ``OSError``, e.g. on a full disk)."""
        try:
            if not self.read_only:
                self.save()
        finally:
            if self._lock_held:
                with contextlib.suppress(OSError):
                    (self.root / "lock").unlink()
                self._lock_held, self.read_only = False, True

    def _acquire_lock(self) -> bool:
        self._lock_held = acquire_lock(self.root / "lock")
        return self._lock_held

    # -- project.json --------------------------------------------------------------
    def _load(self) -> None:
        path = self.root / "project.json"
        if not path.exists():
            return
        try:
            self._apply(_parse(path.read_bytes()))
        except (ValueError, OSError) as exc:
            self.warnings.append(f"project.json is damaged ({exc}); the last good copy is used.")
            self._recover(path)
        else:
            if not self.read_only:
                shutil.copyfile(path, self.root / "project.json.bak")

    def _recover(self, path: Path) -> None:
        if not self.read_only:
            shutil.copyfile(path, self.root / "project.json.damaged")
        try:
            self._apply(_parse((self.root / "project.json.bak").read_bytes()))
            return
        except (ValueError, OSError):
            self.warnings.append("No intact backup; image states rebuilt from the mask files.")
        self.classes, self._images, self.active_model, self.model_info = [], {}, None, {}
        names = {p.stem: p.name for p in self.images}
        for sub, state in (("predictions", ImageState.PREDICTED), ("labels", ImageState.SUPPORT)):
            for png in sorted((self.root / sub).glob("*.png")):
                if png.stem in names:
                    self._images[names[png.stem]] = {"state": state.value}

    def _apply(self, data: dict[str, Any]) -> None:
        """Take the contents of a parsed project.json; ValueError when it is malformed."""
        try:
            classes = [ClassInfo(int(c["id"]), str(c["name"]),
                                  (int(c["color"][0]), int(c["color"][1]), int(c["color"][2])))
                       for c in data.get("classes", [])]
            images = {str(k): dict(v) for k, v in data.get("images", {}).items()}
            model = data.get("active_model")
            info = dict(data.get("model_info") or {})
        except (TypeError, KeyError, IndexError, AttributeError, ValueError) as exc:
            raise ValueError(f"malformed contents: {exc!r}") from None
        if sorted(c.id for c in classes) != list(range(1, len(classes) + 1)):
            raise ValueError("class ids are not 1..N")
        self.classes, self._images = classes, images
        self.active_model = model if isinstance(model, str) else None
        self.model_info = info

    def to_json(self) -> dict[str, Any]:
        """The contents of ``project.json`` as a dict."""
        return {
            "schema_version": SCHEMA_VERSION,
            "image_folder": str(self.image_folder),
            "classes": [{"id": c.id, "name": c.name, "color": list(c.color)}
                        for c in self.classes],
            "images": {k: v for k, v in sorted(self._images.items())},
            "active_model": self.active_model,
            "model_info": self.model_info,
        }

    def json_bytes(self) -> bytes:
        """The encoded ``project.json`` (snapshot; safe to write later from another thread)."""
        return json.dumps(self.to_json(), indent=2).encode("utf-8")

    def save(self) -> None:
        """Write ``project.json`` atomically."""
        self._check_writable()
        text = self.json_bytes()
        atomic_write(self.root / "project.json", lambda f: f.write(text))

    def _check_writable(self) -> None:
        if self.read_only:
            raise ProjectReadOnlyError("this project is open read-only")

    # -- classes ------------------------------------------------------------------------
    def add_class(self, name: str, color: tuple[int, int, int] | None = None) -> ClassInfo:
        """Add a class with the next id; the colour defaults to a distinct palette colour."""
        self._check_writable()
        new_id = len(self.classes) + 1
        if color is None:
            color = default_color(new_id)
        cls = ClassInfo(new_id, name.strip() or f"class {new_id}", tuple(color))  # type: ignore[arg-type]
        self.classes.append(cls)
        try:
            self.save()
        except BaseException:  # not saved: not added
            self.classes.pop()
            raise
        return cls

    def rename_class(self, class_id: int, name: str) -> None:
        """Give class ``class_id`` a new name."""
        self._replace_class(class_id, name=name.strip() or self.class_by_id(class_id).name)

    def recolor_class(self, class_id: int, color: tuple[int, int, int]) -> None:
        """Give class ``class_id`` a new RGB colour."""
        self._replace_class(class_id, color=tuple(int(c) for c in color))

    def _replace_class(self, class_id: int, **changes: Any) -> None:
        self._check_writable()
        old = self.class_by_id(class_id)
        values = {"id": old.id, "name": old.name, "color": old.color, **changes}
        index = self.classes.index(old)
        self.classes[index] = ClassInfo(**values)
        try:
            self.save()
        except BaseException:  # not saved: not changed
            self.classes[index] = old
            raise

    def delete_class(self, class_id: int) -> list[str]:
        """Remove a class: its pixels become background, higher ids move down by one.

        Human labels and predictions on disk are rewritten so ids stay 1..C: every new mask
        is written beside its file first, and only when all are written are they moved into
        place, so a failure (disk full) changes nothing.  Masks that cannot be read are left
        as they are; their file names are returned.
        """
        self._check_writable()
        old = self.class_by_id(class_id)
        lut = np.arange(256, dtype=np.uint8)
        lut[class_id] = 0
        lut[class_id + 1:] = np.arange(class_id, 255, dtype=np.uint8)
        lut[NOT_PAINTED] = NOT_PAINTED
        staged: list[tuple[Path, Path]] = []
        unreadable: list[str] = []
        try:
            for folder in (self.root / "labels", self.root / "predictions"):
                for png in sorted(folder.glob("*.png")):
                    try:
                        arr = read_mask(png, raw=folder.name == "labels")
                    except ImageReadError:
                        unreadable.append(png.name)
                        continue
                    if (arr >= class_id).any():
                        tmp = png.with_name(f".{png.name}.remap.tmp")
                        write_png_atomic(tmp, lut[arr], palette=self.palette())
                        staged.append((tmp, png))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, png in staged:
            os.replace(tmp, png)
        self.classes = [c if c.id < class_id else ClassInfo(c.id - 1, c.name, c.color)
                        for c in self.classes if c != old]
        self.save()
        return unreadable

    def class_by_id(self, class_id: int) -> ClassInfo:
        """Return the class with ``class_id``; raises KeyError when there is none."""
        for c in self.classes:
            if c.id == class_id:
                return c
        raise KeyError(f"no class with id {class_id}")

    def palette(self) -> list[tuple[int, int, int]]:
        """RGB per class index, background (0) black; for palette PNGs."""
        pal = [(0, 0, 0)] * (max((c.id for c in self.classes), default=0) + 1)
        for c in self.classes:
            pal[c.id] = c.color
        return pal

    # -- per-image state -----------------------------------------------------------------
    def state(self, name: str) -> ImageState:
        """State of image ``name`` (file name inside the image folder)."""
        value = self._images.get(name, {}).get("state", ImageState.UNLABELLED.value)
        try:
            return ImageState(value)
        except ValueError:
            return ImageState.UNLABELLED

    def set_state(self, name: str, state: ImageState, *, save: bool = True) -> None:
        """Set the state of image ``name``."""
        self._check_writable()
        self._images.setdefault(name, {})["state"] = ImageState(state).value
        if save:
            self.save()

    def mean_confidence(self, name: str) -> float | None:
        """The model's confidence score on image ``name`` (``Prediction.confidence_score``),
        when it was predicted.  Kept under the key ``mean_confidence``: projects auto-labelled
        before 2026-11-26 hold the whole-image mean there, and order by it until relabelled."""
        value = self._images.get(name, {}).get("mean_confidence")
        return None if value is None else float(value)

    def counts(self) -> dict[ImageState, int]:
        """Number of images per state."""
        result = {s: 0 for s in ImageState}
        for p in self.images:
            result[self.state(p.name)] += 1
        return result

    def names_with(self, *states: ImageState) -> list[str]:
        """File names of the images in any of ``states``, in folder order."""
        return [p.name for p in self.images if self.state(p.name) in states]

    def review_queue(self) -> list[str]:
        """Predicted images, least confident first (the order to review them in)."""
        names = self.names_with(ImageState.PREDICTED)
        return sorted(names, key=lambda n: (self.mean_confidence(n) or 0.0, n))

    def image_path(self, name: str) -> Path:
        """Path of image ``name`` in the user's folder."""
        return self.image_folder / name

    def label_path(self, name: str) -> Path:
        """Path of the human mask of image ``name``."""
        return self.root / "labels" / f"{Path(name).stem}.png"

    def prediction_path(self, name: str) -> Path:
        """Path of the predicted mask of image ``name``."""
        return self.root / "predictions" / f"{Path(name).stem}.png"

    @property
    def models_dir(self) -> Path:
        """Folder of the saved models."""
        return self.root / "models"

    @property
    def model_path(self) -> Path | None:
        """Path of the active model file, when there is one on disk."""
        path = self.models_dir / self.active_model if self.active_model else None
        return path if path is not None and path.exists() else None

    # -- labels and predictions -------------------------------------------------------------
    def load_label(self, name: str) -> np.ndarray | None:
        """The human mask of ``name`` as ``(H, W) uint8``, or None when there is none.

        Values as written: 255 marks unpainted pixels (:mod:`engine.io.labels`)."""
        path = self.label_path(name)
        return read_mask(path, raw=True) if path.exists() else None

    def load_prediction(self, name: str) -> np.ndarray | None:
        """The predicted mask of ``name`` as ``(H, W) uint8``, or None when there is none."""
        path = self.prediction_path(name)
        return read_mask(path) if path.exists() else None

    def save_label(self, name: str, labels: np.ndarray, state: ImageState | None = None) -> None:
        """Write the human mask of ``name`` atomically; an unlabelled/predicted image becomes
        ``state`` (default: support when it was unlabelled, reviewed when it was predicted)."""
        self._check_writable()
        write_png_atomic(self.label_path(name), np.asarray(labels, np.uint8), self.palette())
        self.set_state(name, state or self.state_after_labelling(name))

    def state_after_labelling(self, name: str) -> ImageState:
        """State an image gets when a person saves its mask: painted from scratch = support,
        a corrected prediction = reviewed; support and reviewed images keep their state."""
        current = self.state(name)
        if current == ImageState.UNLABELLED:
            return ImageState.SUPPORT
        return ImageState.REVIEWED if current == ImageState.PREDICTED else current

    def record_prediction(self, name: str, mean_confidence: float | None, *,
                          save: bool = True) -> None:
        """Note that ``predictions/<stem>.png`` was written for ``name`` (by the batch labeller).

        Images with a human label keep their state; the prediction never replaces a label.
        """
        self._check_writable()
        entry = self._images.setdefault(name, {})
        entry["mean_confidence"] = None if mean_confidence is None else float(mean_confidence)
        if self.state(name) == ImageState.UNLABELLED:
            entry["state"] = ImageState.PREDICTED.value
        if save:
            self.save()

    def accept_prediction(self, name: str) -> np.ndarray:
        """Copy the prediction of ``name`` into the human labels; the image becomes reviewed."""
        pred = self.load_prediction(name)
        if pred is None:
            raise FileNotFoundError(f"no prediction for {name}")
        self.save_label(name, pred, ImageState.REVIEWED)
        return pred


def _parse(raw: bytes) -> dict[str, Any]:
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ValueError("not a DistillFSS project file")
    if int(data["schema_version"]) > SCHEMA_VERSION:
        raise ValueError(f"written by a newer version (schema {data['schema_version']})")
    return data
