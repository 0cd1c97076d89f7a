"""Reading images and masks, writing files atomically.

One reader for the engine, the CLI and the app.  Every image comes back as an
``(H, W, 3) uint8`` RGB array with EXIF (or TIFF) orientation applied, so pixels line
up with what image viewers show; every mask as an ``(H, W) uint8`` array of class
indices (0 = background).

Formats and conversions
-----------------------
- JPEG (baseline, progressive, greyscale, CMYK incl. Adobe-inverted), PNG (1/2/4/8/16-bit
  grey, grey+alpha, RGB, RGBA, palette), BMP, WebP, GIF (first frame): Pillow.
- 16-bit PNG: OpenCV (Pillow truncates 16-bit colour to 8 bits).
- TIFF (8/16/32-bit integer, float, CMYK, planar, tiled): tifffile, first page only;
  a multi-page file emits :class:`MultiPageWarning`.  Pillow is the fallback for what
  tifffile lacks a codec for (e.g. JPEG-in-TIFF without ``imagecodecs``).
- Data that is not 8-bit (16/32-bit integer, float) is scaled to 8 bits by a robust
  percentile stretch: the 0.5th and 99.5th percentiles (:data:`STRETCH_PERCENTILES`,
  over all channels together, NaN/inf ignored) map to 0 and 255, values beyond are clipped.
- Alpha is dropped (the colour under transparent pixels is kept); grey is repeated to 3
  channels; palette images are expanded through their palette.
- Size cap: :data:`MAX_IMAGE_PIXELS` = 20000 x 20000 = 400 MP, checked from the header
  before decoding.  Pillow's decompression-bomb guard is raised to the same value.

Errors
------
Every failure is an :class:`ImageReadError` (a ``ValueError``) whose message is one line:
``"<file>: <reason>"`` (empty file, not an image, truncated, permission denied, too large...).
The file name is printable even when it is not valid UTF-8 (see :func:`display_name`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from . import decode
from .decode import MAX_IMAGE_PIXELS, STRETCH_PERCENTILES, MultiPageWarning
from .paths import display_name

__all__ = [
    "IMAGE_SUFFIXES", "MAX_IMAGE_PIXELS", "STRETCH_PERCENTILES", "ImageReadError",
    "MultiPageWarning", "atomic_write", "display_name", "list_images", "read_image",
    "read_image_preview", "read_image_reduced", "read_image_size", "read_mask",
    "write_png_atomic",
    "write_text_atomic",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".tif", ".tiff", ".bmp", ".webp")


class ImageReadError(ValueError):
    """An image or mask file could not be read; the message names the file and the reason."""


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Return the image files directly in ``folder``, sorted by name.

    Hidden files (including temp files of atomic writes) and the project folder
    ``.distillfss`` are skipped; the suffix test ignores case.  Unreadable files are
    listed all the same: reading them reports why.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        With a message naming ``folder``.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"folder not found: {display_name(folder)}")
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: {display_name(folder)}")
    return sorted(
        p for p in folder.iterdir()
        if not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )


@contextmanager
def _reading(path: Path, what: str = "image") -> Iterator[None]:
    """Turn whatever a decoder raises into one :class:`ImageReadError` line."""
    try:
        yield
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(f"{display_name(path)}: file not found") from None
    except PermissionError:
        raise ImageReadError(f"{display_name(path)}: permission denied") from None
    except IsADirectoryError:
        raise ImageReadError(f"{display_name(path)}: is a folder, not a file") from None
    except (decode.TooLargeError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"{display_name(path)}: too large ({exc})") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{display_name(path)}: not an {what} (unrecognised format)") from None
    except MemoryError:
        raise ImageReadError(f"{display_name(path)}: not enough memory to decode it") from None
    except Exception as exc:  # noqa: BLE001 - decoders raise many types on damaged data
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "truncated" in reason.lower():
            reason = "truncated file"
        raise ImageReadError(f"{display_name(path)}: damaged or unsupported {what} ({reason})"
                             ) from None


def _decode_any(path: Path, max_side: int | None) -> np.ndarray:
    kind = decode.sniff(path)
    if kind == "empty":
        raise ImageReadError(f"{display_name(path)}: empty file (0 bytes)")
    if kind == "tiff":
        return decode.read_tiff(path)
    if kind == "png16":
        return decode.read_png16(path)
    return decode.read_pillow(path, max_side)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB with its orientation applied.

    Parameters
    ----------
    path : str or PathLike
        Any file of a format listed in the module docstring (the content decides, not the
        suffix).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3) uint8`` RGB, C-contiguous.

    Raises
    ------
    ImageReadError
        One line naming the file and the reason.  A multi-page TIFF is read (page 1)
        with a :class:`MultiPageWarning`.
    """
    path = Path(path)
    with _reading(path):
        return _decode_any(path, None)


def read_image_preview(path: str | os.PathLike, max_side: int) -> np.ndarray:
    """Read a downsampled copy of an image for display (the canvas of a huge image).

    JPEGs are decoded directly at 1/2, 1/4 or 1/8 scale; other formats are decoded
    and then reduced with area averaging.

    Parameters
    ----------
    path : str or PathLike
    max_side : int
        Largest allowed width or height in pixels (>= 1).

    Returns
    -------
    numpy.ndarray
        ``(h, w, 3) uint8`` RGB with ``max(h, w) <= max_side`` and the aspect ratio of
        :func:`read_image_size` (to within one pixel); never upscaled.
    """
    if int(max_side) < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    path = Path(path)
    with _reading(path):
        arr = _decode_any(path, int(max_side))
        h, w = arr.shape[:2]
        scale = max_side / max(h, w)
        if scale < 1:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
        return arr


def read_image_reduced(path: str | os.PathLike,
                       min_long_side: int | Callable[[int, int], int | None],
                       ) -> tuple[np.ndarray, tuple[int, int]]:
    """Read an image for a consumer that shrinks it to a long side of ``min_long_side`` or
    less anyway (the predictor), decoding a large JPEG at reduced size.

    ``min_long_side`` may also be a function of the full image's ``(H, W)`` (read from the
    header) returning it, or None for the full size (e.g.
    :meth:`engine.infer.predict.Predictor.decode_long_side`).

    A JPEG whose long side is at least ``2 * min_long_side`` is decoded at 1/2, 1/4 or 1/8
    scale (the JPEG decoder's own scaling: 8x8 blocks averaged in the DCT domain), keeping
    its long side >= ``min_long_side``: a 12 MP photo reads several times faster, and the
    resize that follows starts from ~1 MP instead of 12 (``benchmarks/reduced_decode.py``,
    ``benchmarks/results/reduced-decode.md``).  Other
    formats, and smaller JPEGs, are read at full size.

    Returns
    -------
    (pixels, (H, W))
        ``pixels``: ``(h, w, 3) uint8`` RGB, orientation applied, with the aspect ratio of the
        full image; ``(H, W)``: the size :func:`read_image` returns.

    Raises
    ------
    ImageReadError
        As :func:`read_image`.
    """
    if not callable(min_long_side) and int(min_long_side) < 1:
        raise ValueError(f"min_long_side must be >= 1, got {min_long_side}")
    path = Path(path)
    with _reading(path):
        kind = decode.sniff(path)
        if kind == "empty":
            raise ImageReadError(f"{display_name(path)}: empty file (0 bytes)")
        # Only a JPEG decodes at reduced size; for other formats even the header's size can
        # cost a decode (Pillow loads a whole PNG to look for EXIF after the pixels).
        if kind == "jpeg":
            w, h = decode.image_size(path, kind)
            side = min_long_side(h, w) if callable(min_long_side) else int(min_long_side)
            if side is None:
                side = max(h, w)
            if max(h, w) >= 2 * side:
                arr = decode.read_pillow(path, side)
                ah, aw = arr.shape[:2]
                # The same aspect ratio to within one pixel of the reduced grid (a damaged
                # EXIF block can make the header's orientation disagree with the decoder's).
                if (ah, aw) == (h, w) or (abs(ah * w - aw * h) <= max(h, w)
                                          and max(ah, aw) >= side - 1):
                    return arr, (h, w)
        arr = _decode_any(path, None)
        return arr, (arr.shape[0], arr.shape[1])


def read_image_size(path: str | os.PathLike) -> tuple[int, int]:
    """Return ``(width, height)`` of the image :func:`read_image` would return, cheaply.

    Only the header is read (orientation included: a portrait phone photo stored
    landscape with EXIF orientation 6 reports its upright size).

    Raises
    ------
    ImageReadError
        When the header cannot be read.
    """
    path = Path(path)
    with _reading(path):
        kind = decode.sniff(path)
        if kind == "empty":
            raise ImageReadError(f"{display_name(path)}: empty file (0 bytes)")
        return decode.image_size(path, kind)


def read_mask(path: str | os.PathLike, *, raw: bool = False) -> np.ndarray:
    """Read a mask image as class indices.

    Palette PNGs keep their palette indices; 16-bit masks keep values up to 255 (any
    larger value makes the mask binary: nonzero = 1); colour masks are reduced to grey;
    alpha is ignored.  A binary mask whose only values are 0 and 255 becomes 0/1, unless
    ``raw`` (the project's own label files, where 255 means "not painted":
    :mod:`engine.io.labels`).

    Returns
    -------
    numpy.ndarray
        ``(H, W) uint8``, 0 = background.

    Raises
    ------
    ImageReadError
        One line naming the file and the reason.
    """
    path = Path(path)
    with _reading(path, "mask"):
        if decode.sniff(path) == "empty":
            raise ImageReadError(f"{display_name(path)}: empty file (0 bytes)")
        with Image.open(path) as im:
            decode.check_pixels(*im.size)
            arr = _mask_array(im)
    values = np.unique(arr)
    if not raw and values.size <= 2 and values.max(initial=0) == 255:
        arr = (arr > 127).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _mask_array(im: Image.Image) -> np.ndarray:
    if im.mode == "P":
        return np.asarray(im, dtype=np.uint8)
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.nan_to_num(np.asarray(im, dtype=np.float64))
        return (arr > 0).astype(np.uint8) if arr.max(initial=0) > 255 else arr.astype(np.uint8)
    if im.mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        im = im.convert("RGB") if im.mode != "LA" else im.convert("L")
    return np.asarray(im.convert("L"), dtype=np.uint8)


def write_png_atomic(path: str | os.PathLike, array: np.ndarray,
                     palette: Sequence[tuple[int, int, int]] | None = None) -> None:
    """Write an array as PNG via temp file + fsync + rename.

    Parameters
    ----------
    path : str or PathLike
    array : numpy.ndarray
        ``(H, W) uint8`` (class indices or grey) or ``(H, W, 3) uint8`` RGB.
    palette : sequence of (r, g, b), optional
        Colours of indices 0..n-1; writes a palette PNG whose pixel values are still the
        class indices.
    """
    path = Path(path)
    im = Image.fromarray(np.ascontiguousarray(array))
    if palette is not None and np.ndim(array) == 2:
        flat = [int(c) for rgb in palette for c in rgb][:768]
        im.putpalette(flat + [0] * (768 - len(flat)))
    # Label maps are mostly runs of one value: zlib level 1 is ~1/3 the CPU of the default 6
    # for files only slightly larger, which matters while auto-labelling shares the cores.
    atomic_write(path, lambda f: im.save(f, format="PNG", compress_level=1))


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (temp file + fsync + rename)."""
    data = text.encode("utf-8")
    atomic_write(path, lambda f: f.write(data))


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any], *,
                 sync_folder: bool = True) -> None:
    """Call ``write(fileobj)`` on a hidden temp file beside ``path``, fsync, rename over ``path``.

    A crash at any moment leaves either the old file or the new one, never a mix; on
    error the temp file is removed and the exception propagates (e.g. ``OSError`` with
    ``errno.ENOSPC`` when the disk is full).  The folder is fsynced after the rename
    where the OS allows it, so the rename itself survives a power cut (``sync_folder=False``:
    the caller fsyncs the folder once for a batch of files).
    """
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
    if sync_folder:
        fsync_dir(path.parent)


def fsync_dir(folder: str | os.PathLike) -> None:
    """fsync a folder (its renames survive a power cut) where the OS allows it."""
    if os.name == "nt":  # folders cannot be opened for fsync on Windows
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
