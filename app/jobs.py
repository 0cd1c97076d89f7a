"""Background jobs: learning a class, auto-labelling the folder, predicting one image.

Each job is a plain generator function run by a superqt worker in the global thread
pool; the Qt side only receives small records on the main thread.  Engine modules
(torch) are imported inside the worker functions, so the GUI starts without torch.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from superqt.utils import GeneratorWorker, create_worker

from app.thumbs import shrink_labels
from engine.io.images import read_image, read_mask
from engine.io.labels import training_mask


class JobError(Exception):
    """A failure inside a job (RuntimeError re-raised under a type superqt reports)."""


def guarded(gen: Generator[Any, None, Any]) -> Generator[Any, None, Any]:
    # superqt treats a RuntimeError escaping a generator as "worker deleted" and then emits
    # neither `errored` nor `finished`; torch raises RuntimeError for real failures
    # (out of memory, bad shapes), so convert it.
    try:
        return (yield from gen)
    except RuntimeError as exc:
        raise JobError(str(exc)) from exc
    finally:
        gen.close()


@dataclass(frozen=True)
class LearnRequest:
    """What the learn job needs: support (image, project label file) paths, classes, output
    folder."""

    supports: Sequence[tuple[Path, Path]]
    classes: Sequence[tuple[int, str, tuple[int, int, int]]]
    models_dir: Path
    config: Any = None  # engine.learning.train.LearnConfig or None for the defaults


@dataclass(frozen=True)
class LearnResult:
    """The trained model and where it was saved."""

    model: Any
    path: Path


@dataclass(frozen=True)
class ModelReady:
    """The trained model is saved at ``path`` and usable; its leave-one-out estimate follows
    (the learn job then saves the file again, with it, and returns :class:`LearnResult`)."""

    path: Path


@dataclass(frozen=True)
class Status:
    """A plain progress message (e.g. while reading the support images)."""

    message: str


def support_mask(path: Path) -> np.ndarray:
    """A project label file as learning sees it: read raw (255 = not painted), then
    :func:`engine.io.labels.training_mask` (no background painted = a complete example)."""
    return training_mask(read_mask(path, raw=True))


def learn_job(request: LearnRequest) -> Generator[Any, None, LearnResult]:
    """Read the supports, run ``engine.learning.train.learn``, save the model; worker thread."""
    return (yield from guarded(_learn(request)))


def _read_supports(supports: Sequence[tuple[Path, Path]]
                   ) -> Generator[Status, None, tuple[list, list]]:
    images, masks = [], []
    for i, (image_path, mask_path) in enumerate(supports):
        yield Status(f"Reading example {i + 1} of {len(supports)}")
        images.append(read_image(image_path))
        masks.append(support_mask(mask_path))
    return images, masks


def _learn(request: LearnRequest) -> Generator[Any, None, LearnResult]:
    from engine.io.labels import ClassInfo
    from engine.learning.train import learn
    from engine.nn.modelfile import save_model

    images, masks = yield from _read_supports(request.supports)
    classes = [ClassInfo(i, name, tuple(color)) for i, name, color in request.classes]
    names = [Path(image_path).name for image_path, _ in request.supports]
    path = request.models_dir / time.strftime("model-%Y%m%d-%H%M%S.dfss")
    gen = learn(images, masks, classes, request.config)
    try:
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                model = stop.value
                break
            if item.phase == "trained" and item.model is not None:
                # Usable now; the leave-one-out folds follow, then the file is saved again.
                item.model.metadata["support_files"] = names
                save_model(item.model, path)
                yield ModelReady(path)
            else:
                yield item
    finally:
        gen.close()
    model.metadata["support_files"] = names
    yield Status("Saving the model")
    save_model(model, path)
    return LearnResult(model, path)


@dataclass(frozen=True)
class RefineRequest:
    """What the refine job needs: the model in use, its examples (image, label file), the
    folder's unlabelled images and the models folder."""

    model_path: Path
    supports: Sequence[tuple[Path, Path]]
    folder: Sequence[Path]
    models_dir: Path
    config: Any = None  # engine.learning.train.LearnConfig or None: the model's seed
    settings: Any = None  # engine.refine.RefineConfig or None: its defaults


def refine_job(request: RefineRequest) -> Generator[Any, None, LearnResult]:
    """Refine the model on the folder (:func:`engine.refine.refine`), save it as a new model
    file; worker thread."""
    return (yield from guarded(_refine(request)))


def _refine(request: RefineRequest) -> Generator[Any, None, LearnResult]:
    from engine.nn.modelfile import load_model, save_model
    from engine.refine import refine

    yield Status("Loading the model")
    model = load_model(request.model_path)
    images, masks = yield from _read_supports(request.supports)
    loaders = [partial(read_image, p) for p in request.folder]
    gen = refine(model, images, masks, loaders, request.config, request.settings)
    try:
        refined = yield from gen
    finally:
        gen.close()
    yield Status("Saving the model")
    path = request.models_dir / time.strftime("model-%Y%m%d-%H%M%S-refined.dfss")
    save_model(refined, path)
    return LearnResult(refined, path)


@dataclass(frozen=True)
class LabelUpdate:
    """One auto-labelled image, with its label map shrunk to the thumbnail size."""

    progress: Any  # engine.infer.batch.LabelProgress
    small: np.ndarray | None


def auto_label_job(model_path: Path, images: Sequence[Path], output_dir: Path,
                   thumb_shapes: dict[str, tuple[int, int]], device: str | None = None,
                   batch_size: int = 4, flip_average: bool = False) -> Iterator[Any]:
    """Label ``images`` into ``output_dir`` with the model file; worker thread.
    ``flip_average``: see :class:`engine.infer.predict.Predictor`."""
    yield from guarded(_auto_label(model_path, images, output_dir, thumb_shapes, device,
                                    batch_size, flip_average))


def _auto_label(model_path: Path, images: Sequence[Path], output_dir: Path,
                thumb_shapes: dict[str, tuple[int, int]], device: str | None,
                batch_size: int, flip_average: bool) -> Iterator[Any]:
    from engine.infer.batch import label_folder
    from engine.infer.predict import Predictor

    yield Status("Loading the model")
    predictor = Predictor.from_file(model_path, device=device, flip_average=flip_average)
    gen = label_folder(predictor, list(images), output_dir, batch_size=batch_size, resume=True)
    try:
        for progress in gen:
            small = None
            shape = thumb_shapes.get(progress.path.name)
            if progress.labels is not None and shape is not None:
                small = shrink_labels(progress.labels, shape)
            yield LabelUpdate(progress, small)
    finally:
        gen.close()  # stops the engine's prefetching at once when cancelled


@dataclass(frozen=True)
class PredictResult:
    """The model's output for one image."""

    name: str
    labels: np.ndarray
    confidence: np.ndarray
    device: str


def predict_job(predictor_cache: dict[str, Any], model_path: Path, name: str,
                image: np.ndarray, device: str | None = None,
                flip_average: bool = False) -> PredictResult:
    """Predict one image (loading the model once per path and setting into
    ``predictor_cache``)."""
    from engine.infer.predict import Predictor

    key = f"{model_path}|flip_average={flip_average}"
    predictor = predictor_cache.get(key)
    if predictor is None:
        predictor_cache.clear()
        predictor = predictor_cache[key] = Predictor.from_file(model_path, device=device,
                                                               flip_average=flip_average)
    pred = predictor.predict(image)
    return PredictResult(name, pred.labels, pred.confidence, str(predictor.device))


_LIVE: set[Job] = set()


class _ClosingGeneratorWorker(GeneratorWorker):
    """Closes its generator on the worker thread when the loop ends (done, cancelled or
    failed): the job's ``finally`` (e.g. joining the labeller's reader threads and waiting
    for its queued PNG writes, which fsync) must not run on the GUI thread."""

    def work(self) -> Any:
        try:
            return super().work()
        finally:
            self._gen.close()


class Job(QObject):
    """One running generator or function worker, with cancel and clean shutdown."""

    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(str)
    finished = Signal(bool)  # True when cancelled

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        _LIVE.add(self)  # keep this object alive until its worker has finished
        self._cancelled = False
        self._detached = False
        connect: dict[str, Callable[..., Any]] = {
            "returned": self._on_returned, "errored": self._on_errored,
            "finished": self._on_finished}
        extra: dict[str, Any] = {}
        if inspect.isgeneratorfunction(func):
            connect["yielded"] = self._on_yielded
            extra["_worker_class"] = _ClosingGeneratorWorker
        self._worker = create_worker(func, *args, **kwargs, _connect=connect, **extra)

    def cancel(self) -> None:
        """Stop at the next yield (generators) or discard the result (functions)."""
        self._cancelled = True
        self._worker.quit()

    def detach(self) -> None:
        """Cancel and emit nothing more (the receiver is going away)."""
        self._detached = True
        self.cancel()

    @property
    def running(self) -> bool:
        """True until ``finished`` was emitted."""
        return self._worker is not None

    def _on_yielded(self, value: object) -> None:
        if not self._detached:
            self.yielded.emit(value)

    def _on_returned(self, value: object) -> None:
        if not self._detached:
            self.returned.emit(value)

    def _on_errored(self, exc: BaseException) -> None:
        if not self._detached:
            self.errored.emit(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    def _on_finished(self) -> None:
        worker, self._worker = self._worker, None
        if isinstance(worker, GeneratorWorker):
            gen = getattr(worker, "_gen", None)
            if gen is not None:  # already closed on the worker thread (no-op then)
                gen.close()
        _LIVE.discard(self)
        if not self._detached:
            self.finished.emit(self._cancelled)


@dataclass(frozen=True)
class DeleteResult:
    """What :func:`delete_class_job` did: ``error`` is None when the class was deleted;
    ``unreadable``: masks left as they were (they could not be read)."""

    class_id: int
    unreadable: list[str]
    error: str | None = None


def delete_class_job(project: Any, class_id: int) -> DeleteResult:
    """Delete class ``class_id`` of the project (``Project.delete_class``: rewrites every
    label and prediction PNG, all or none); worker thread.  A write error is returned, not
    raised: whether anything changed is read from ``project.classes`` afterwards."""
    from engine.io.project import ProjectError

    try:
        return DeleteResult(class_id, project.delete_class(class_id))
    except (OSError, ProjectError) as exc:
        return DeleteResult(class_id, [], str(exc))


def default_workers() -> Any:
    """The app's own job functions, as :class:`app.session.Workers`."""
    from app.live import live_round_job
    from app.session import Workers

    return Workers(learn=learn_job, auto_label=auto_label_job, predict=predict_job,
                   live_round=live_round_job, delete_class=delete_class_job, refine=refine_job)
