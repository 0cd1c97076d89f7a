"""Decoders behind :mod:`engine.io.images`: Pillow, tifffile and OpenCV, each where it is best.

Private module; use :func:`engine.io.images.read_image` and friends.  Every function here
returns ``(H, W, 3) uint8`` RGB (or raises); the caller turns exceptions into
:class:`engine.io.images.ImageReadError`.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from .paths import display_name

#: Largest image accepted, in pixels (20000 x 20000 = 400 MP).  A fully decoded
#: RGB image of that size takes 1.2 GB; anything larger is refused before decoding.
MAX_IMAGE_PIXELS = 20000 * 20000
# Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that; we raise its guard to
# our cap on purpose (not None) and check the size ourselves before anything is decoded.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

#: Percentiles of the robust stretch applied to 16-bit, 32-bit and float data.
STRETCH_PERCENTILES = (0.5, 99.5)
_STRETCH_SAMPLES = 1 << 20

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


class MultiPageWarning(UserWarning):
    """A multi-page file was read; only its first page is used."""


class TooLargeError(ValueError):
    """The image has more pixels than :data:`MAX_IMAGE_PIXELS`."""


def sniff(path: Path) -> str:
    """Return ``"tiff"``, ``"png16"`` (16-bit PNG), ``"jpeg"``, ``"empty"`` or ``"other"``
    from the header."""
    with open(path, "rb") as f:
        head = f.read(32)
    if not head:
        return "empty"
    if head[:4] in _TIFF_MAGICS:
        return "tiff"
    if (head.startswith(_PNG_MAGIC) and len(head) >= 26 and head[12:16] == b"IHDR"
            and head[24] == 16):
        return "png16"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    return "other"


def check_pixels(width: int, height: int) -> None:
    """Raise :class:`TooLargeError` when ``width * height`` exceeds the documented cap."""
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid image size {width}x{height}")
    if width * height > MAX_IMAGE_PIXELS:
        raise TooLargeError(
            f"image is {width}x{height} = {width * height / 1e6:.0f} MP, over the "
            f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP limit")


def stretch_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale any numeric array to uint8 with a robust percentile stretch.

    The 0.5th and 99.5th percentiles of the finite values (over all channels
    together, so colour balance is kept; estimated from at most 2**20 evenly
    spaced samples) map to 0 and 255; values outside are clipped, NaN becomes 0.
    A constant image becomes 0.
    """
    arr = np.asarray(arr)
    flat = arr.reshape(-1)
    if flat.size > _STRETCH_SAMPLES:
        flat = flat[:: flat.size // _STRETCH_SAMPLES]
    flat = flat.astype(np.float64)
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        return np.zeros(arr.shape, np.uint8)
    lo, hi = np.percentile(finite, STRETCH_PERCENTILES)
    if hi <= lo:
        hi = lo + 1.0
    out = np.empty(arr.shape, np.uint8)
    for i, row in enumerate(arr.reshape(arr.shape[0], -1)):  # row-wise: bounded memory
        scaled = (np.nan_to_num(row.astype(np.float32), nan=lo, posinf=hi, neginf=lo) - lo)
        out.reshape(arr.shape[0], -1)[i] = np.clip(scaled * (255.0 / (hi - lo)) + 0.5, 0, 255)
    return out


def to_rgb(arr: np.ndarray, cmyk: bool = False) -> np.ndarray:
    """Turn ``(H, W)``, ``(H, W, C)`` data of any dtype into ``(H, W, 3) uint8``.

    One channel is grey, two are grey+alpha, four are RGBA (or CMYK when ``cmyk``),
    more than four keep the first three.  Alpha is dropped: the colour stored under
    transparent pixels is kept as it is.
    """
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 3:
        if cmyk and arr.shape[2] >= 4:
            arr = _cmyk_to_rgb(arr[..., :4])
        arr = arr[..., :1] if arr.shape[2] == 2 else arr[..., :3]
        if arr.shape[2] == 1:
            arr = arr[..., 0]
    if arr.ndim != 2 and not (arr.ndim == 3 and arr.shape[2] == 3):
        raise ValueError(f"unsupported pixel layout {arr.shape}")
    if arr.dtype != np.uint8:
        arr = stretch_to_uint8(arr)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr)


def _cmyk_to_rgb(cmyk: np.ndarray) -> np.ndarray:
    scale = float(np.iinfo(cmyk.dtype).max) if cmyk.dtype.kind in "ui" else 1.0
    c, m, y, k = (cmyk[..., i].astype(np.float32) / scale for i in range(4))
    rgb = np.stack([(1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k)], axis=-1)
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF/TIFF orientation (1..8) to an ``(H, W[, C])`` array, as viewers do."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(int(orientation))
    return np.ascontiguousarray(op(arr)) if op else arr


def read_pillow(path: Path, max_side: int | None = None) -> np.ndarray:
    """Decode with Pillow (JPEG, PNG, BMP, WebP, GIF, and TIFF that tifffile cannot)."""
    with Image.open(path) as im:
        check_pixels(*im.size)
        if getattr(im, "n_frames", 1) > 1 and im.format == "TIFF":
            warn_multipage(path, im.n_frames)
        if max_side and im.format in ("JPEG", "MPO"):
            scale = max_side / max(im.size)
            if scale < 1:  # JPEG decodes at 1/2, 1/4 or 1/8 size for free
                im.draft(None, (max(1, int(im.size[0] * scale)), max(1, int(im.size[1] * scale))))
        im.load()
        with contextlib.suppress(Exception):  # a damaged EXIF block: the image is still good
            im = ImageOps.exif_transpose(im)
        return pil_to_rgb(im)


def pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any mode to ``(H, W, 3) uint8`` RGB (alpha dropped)."""
    if im.mode in _HIGH_BIT_MODES:
        return to_rgb(np.asarray(im))
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA")
    if im.mode in ("LA", "La", "1"):
        im = im.convert("L")
    if im.mode == "L":
        return to_rgb(np.asarray(im))
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def warn_multipage(path: Path, pages: int) -> None:
    """Warn (:class:`MultiPageWarning`) that only page 1 of ``pages`` is used."""
    warnings.warn(f"{display_name(path)}: {pages} pages; only the first page is used",
                  MultiPageWarning, stacklevel=4)


def read_png16(path: Path) -> np.ndarray:
    """Decode a 16-bit PNG with OpenCV (Pillow reduces 16-bit RGB to 8 bits by truncation)."""
    data = path.read_bytes()
    width, height = struct.unpack(">II", data[16:24])
    check_pixels(width, height)
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # we report damage
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if arr is None:
        raise ValueError("corrupt or truncated PNG data")
    if arr.ndim == 3 and arr.shape[2] >= 3:
        arr = arr[..., [2, 1, 0]]  # BGR(A) -> RGB, alpha dropped
    return to_rgb(arr)


def read_tiff(path: Path) -> np.ndarray:
    """Decode the first page of a TIFF with tifffile; fall back to Pillow when it cannot."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            check_pixels(int(page.imagewidth), int(page.imagelength))
            photometric = int(page.photometric)
            if photometric not in (0, 1, 2, 5):  # palette, YCbCr, Lab...: Pillow knows them
                raise _UsePillow
            arr = _page_array(page)
            orientation = page.tags.valueof(274, default=1)
            pages = len(tif.pages)
    except (TooLargeError, MemoryError):
        raise
    except Exception:  # noqa: BLE001 - a codec tifffile lacks, odd layouts: try Pillow
        return read_pillow(path)
    if pages > 1:
        warn_multipage(path, pages)
    if photometric == 0:  # min-is-white
        arr = (arr.max() - arr) if arr.dtype.kind in "ui" else -arr
    return orient(to_rgb(arr, cmyk=photometric == 5), orientation)


class _UsePillow(Exception):
    pass


def _page_array(page) -> np.ndarray:
    arr = page.asarray()
    axes = page.axes
    while arr.ndim > 3 or (arr.ndim == 3 and "S" not in axes):
        arr, axes = arr[0], axes[1:]  # e.g. a depth or sample axis: keep the first slice
    if arr.ndim == 3 and axes.index("S") == 0:
        arr = np.moveaxis(arr, 0, -1)
    return arr


def image_size(path: Path, kind: str) -> tuple[int, int]:
    """Return ``(width, height)`` as :func:`engine.io.images.read_image` would, no decoding."""
    if kind == "tiff":
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages.first
                w, h = int(page.imagewidth), int(page.imagelength)
                orientation = page.tags.valueof(274, default=1)
            return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        except Exception:  # noqa: BLE001, S110 - what tifffile cannot read, Pillow may
            pass
    with Image.open(path) as im:
        w, h = im.size
        try:
            # Pillow's PNG getexif() decodes the whole image to look for an eXIf chunk after
            # the pixels: read only one before them (where writers put it), or none.
            if im.format == "PNG" and "exif" not in im.info:
                orientation = 1
            else:
                orientation = im.getexif().get(0x0112, 1)
        except Exception:  # noqa: BLE001 - a damaged EXIF block: no rotation
            orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
