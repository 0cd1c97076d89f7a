"""Reading images and masks, writing PNGs atomically.

One reader for the engine, the CLI and the app.  Every image comes back as an
``(H, W, 3) uint8`` RGB array with EXIF orientation applied; every mask as an
``(H, W) uint8`` array of class indices (0 = background).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


class ImageReadError(ValueError):
    """An image or mask file could not be read; the message names the file and the reason."""


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Return the image files directly in ``folder``, sorted by name.

    Hidden files and the project folder ``.distillfss`` are skipped.
    Raises ``FileNotFoundError`` / ``NotADirectoryError`` with a clear message.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"folder not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: {folder}")
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as ``(H, W, 3) uint8`` RGB, EXIF orientation applied."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                arr = _stretch_to_uint8(np.asarray(im, dtype=np.float32))
                return np.repeat(arr[..., None], 3, axis=2)
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc})") from None


def _stretch_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale high-bit-depth data to uint8 with a 0.5–99.5 percentile stretch."""
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return np.zeros(arr.shape, np.uint8)
    lo, hi = np.percentile(finite, [0.5, 99.5])
    if hi <= lo:
        hi = lo + 1.0
    out = (np.nan_to_num(arr, nan=lo) - lo) / (hi - lo) * 255.0
    return np.clip(out, 0, 255).astype(np.uint8)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask PNG as ``(H, W) uint8`` class indices.

    A binary 0/255 mask (or any mask whose only values are 0 and one value > 1
    per colour) becomes 0/1.  Palette PNGs keep their palette indices; RGB masks
    are reduced to their first channel.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            if im.mode == "P":
                arr = np.asarray(im, dtype=np.uint8)
            elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im).astype(np.int64)
                if arr.max() > 255:
                    arr = (arr > 0).astype(np.uint8)
                arr = arr.astype(np.uint8)
            else:
                arr = np.asarray(im.convert("L"), dtype=np.uint8)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: mask file not found") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"{path}: not a readable mask ({exc})") from None
    values = np.unique(arr)
    if values.size <= 2 and values.max(initial=0) == 255:
        arr = (arr > 127).astype(np.uint8)
    return arr.copy()


def write_png_atomic(path: str | os.PathLike, array: np.ndarray,
                     palette: Sequence[tuple[int, int, int]] | None = None) -> None:
    """Write an ``(H, W) uint8`` (or ``(H, W, 3)``) array as PNG via temp file + fsync + rename.

    With ``palette`` (list of RGB for indices 0..n-1) a palette PNG is written;
    its pixel values are still the class indices.
    """
    path = Path(path)
    im = Image.fromarray(np.ascontiguousarray(array))
    if palette is not None and array.ndim == 2:
        flat = [c for rgb in palette for c in rgb]
        im.putpalette(flat + [0] * (768 - len(flat)))
    atomic_write(path, lambda f: im.save(f, format="PNG"))


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(fileobj)`` on a temp file beside ``path``, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
