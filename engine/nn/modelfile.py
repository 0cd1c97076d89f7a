"""The model file: one safetensors file = trainable weights + JSON metadata in its header.

The header's ``__metadata__["distillfss"]`` holds a JSON object::

    {"format": "distillfss-model", "format_version": 1, "engine_version": "0.1.0",
     "classes": [{"id": 1, "name": "nucleus", "color": [230, 25, 75]}],
     "head": {"backbone": "efficientnet_lite0", ...},    # engine.nn.model.HeadConfig
     "metadata": {"input_size": 384, "loo_miou": 0.71, "support_hashes": [...], ...}}

The frozen backbone is not stored: it is rebuilt from its registry name (its weights come from
an installed package).  Loading never unpickles anything; a damaged, truncated or foreign file
raises :class:`ModelFileError` with a one-line reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.io.images import atomic_write
from engine.io.labels import ClassInfo

from .model import HeadConfig, SegModel

FORMAT = "distillfss-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file is missing, damaged, of another format or of an unsupported version."""


def save_model(model: SegModel, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` atomically (temp file + fsync + rename)."""
    from safetensors.torch import save

    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "engine_version": model.metadata.get("engine_version"),
        "classes": [{"id": c.id, "name": c.name, "color": list(c.color)} for c in model.classes],
        "head": model.config_dict(),
        "metadata": model.metadata,
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.trainable_state().items()}
    data = save(tensors, metadata={"distillfss": json.dumps(header)})
    atomic_write(path, lambda f: f.write(data))


def read_header(path: str | os.PathLike) -> dict:
    """Return the JSON header of a model file without loading the weights."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - safetensors' own error types, damaged files
        raise ModelFileError(f"{path}: not a readable model file ({_short(exc)})") from None
    try:
        header = json.loads(meta["distillfss"])
    except (KeyError, TypeError, json.JSONDecodeError):
        raise ModelFileError(f"{path}: not a DistillFSS model (no valid metadata)") from None
    _check_header(path, header)
    return header


def _check_header(path: Path, header: object) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a DistillFSS model file")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelFileError(f"{path}: model format version {version!r} is not supported "
                             f"(this program reads version {FORMAT_VERSION}); update the app")
    classes = header.get("classes")
    if not isinstance(classes, list) or not classes:
        raise ModelFileError(f"{path}: model metadata lists no classes")


def _classes(path: Path, header: dict) -> list[ClassInfo]:
    try:
        return [ClassInfo(int(c["id"]), str(c["name"]), tuple(int(v) for v in c["color"]))
                for c in header["classes"]]
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(f"{path}: malformed class list in model metadata") from None


def load_model(path: str | os.PathLike, device: str | None = None) -> SegModel:
    """Load a model file written by :func:`save_model`; returns an eval-mode ``SegModel``."""
    from safetensors.torch import load_file

    path = Path(path)
    header = read_header(path)
    classes = _classes(path, header)
    try:
        head = header.get("head", {})
        if "decoder_widths" in head:
            head["decoder_widths"] = tuple(head["decoder_widths"])
        head.setdefault("skip_convs", "concat")  # files written before the option existed
        head.setdefault("pixel_paths", "none")  # files written before the pixel paths
        config = HeadConfig(**head)
    except (TypeError, AttributeError, ValueError):
        raise ModelFileError(f"{path}: unknown model architecture settings") from None
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - as above
        raise ModelFileError(f"{path}: damaged weights ({_short(exc)})") from None
    model = SegModel(classes, config, metadata=header.get("metadata") or {})
    try:
        missing, unexpected = model.load_state_dict(tensors, strict=False)
    except RuntimeError:
        raise ModelFileError(f"{path}: weights do not match the architecture (shape mismatch)"
                             ) from None
    missing = [k for k in missing if not k.startswith("backbone.")]
    if missing or unexpected:
        raise ModelFileError(f"{path}: weights do not match the architecture "
                             f"({len(missing)} missing, {len(unexpected)} unexpected)")
    if device is not None:
        model.to(device)
    return model.eval()


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]
