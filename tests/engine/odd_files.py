"""Generate a folder of the odd image files users really have (a test helper, not a conftest).

``make_odd_folder(folder)`` writes the files and returns one :class:`OddFile` per file
saying what a reader should do with it: ``shape`` (H, W) when it must read, or
``error`` (a substring of the one-line reason) when it must be skipped.

Use ``make_odd_folder(folder, big=True)`` to add a 12000x9000 mostly-constant JPEG.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

H, W = 48, 64


@dataclass(frozen=True)
class OddFile:
    """One generated file: its path and what reading it must give."""

    path: Path
    shape: tuple[int, int] | None = None   # (H, W) after orientation when it must read
    error: str | None = None                # substring of the ImageReadError message
    warns: bool = False                     # a MultiPageWarning is expected


def gradient_rgb(h: int = H, w: int = W) -> np.ndarray:
    """Return a smooth ``(h, w, 3) uint8`` test image (JPEG-friendly, orientation-revealing)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1),
                     (x + y) * 255 // max(h + w - 2, 1)], -1).astype(np.uint8)


def write_raw_png(path: Path, arr: np.ndarray, color_type: int, depth: int = 16,
                  size: tuple[int, int] | None = None) -> None:
    """Write a PNG by hand (for 16-bit grey+alpha, and for lying headers via ``size``)."""
    h, w = arr.shape[:2]
    dtype = ">u2" if depth == 16 else "u1"
    raw = b"".join(b"\x00" + np.ascontiguousarray(arr[y]).astype(dtype).tobytes()
                   for y in range(h))
    hw = size or (w, h)

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", hw[0], hw[1], depth, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _good_files(d: Path) -> list[OddFile]:
    rgb = gradient_rgb()
    out = []
    Image.fromarray(rgb).convert("CMYK").save(d / "cmyk.jpg")
    Image.fromarray(rgb).save(d / "progressive.jpg", progressive=True)
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees clockwise
    im.save(d / "exif_rotated.jpg", exif=exif)
    out += [OddFile(d / "cmyk.jpg", (H, W)), OddFile(d / "progressive.jpg", (H, W)),
            OddFile(d / "exif_rotated.jpg", (W, H))]
    Image.fromarray(rgb.astype(np.uint16)[..., 0] * 200).save(d / "gray16.png")
    write_raw_png(d / "rgb16.png", rgb.astype(np.uint16) * 257, color_type=2)
    write_raw_png(d / "grayalpha16.png", rgb[..., :2].astype(np.uint16) * 257, color_type=4)
    Image.fromarray(rgb).convert("RGBA").save(d / "rgba.png")
    Image.fromarray(rgb).convert("LA").save(d / "grayalpha.png")
    Image.fromarray(rgb).quantize(256).save(d / "palette.png")
    Image.fromarray(rgb).save(d / "bitmap.bmp")
    Image.fromarray(rgb).save(d / "lossless.webp", lossless=True)
    out += [OddFile(d / n, (H, W)) for n in ("gray16.png", "rgb16.png", "grayalpha16.png",
                                             "rgba.png", "grayalpha.png", "palette.png",
                                             "bitmap.bmp", "lossless.webp")]
    tifffile.imwrite(d / "multipage.tif", np.stack([rgb[..., 0]] * 3), photometric="minisblack")
    tifffile.imwrite(d / "rgb16.tif", rgb.astype(np.uint16) * 257, photometric="rgb")
    tifffile.imwrite(d / "float.tif", rgb[..., 0].astype(np.float32) / 7.0)
    out += [OddFile(d / "multipage.tif", (H, W), warns=True),
            OddFile(d / "rgb16.tif", (H, W)), OddFile(d / "float.tif", (H, W))]
    Image.fromarray(rgb).save(d / "name with  spaces .png")
    bad_utf8 = os.fsencode(str(d)) + b"/caf\xe9 latin1.png"
    Image.fromarray(rgb).save(bad_utf8.decode("utf-8", "surrogateescape"), format="PNG")
    out += [OddFile(d / "name with  spaces .png", (H, W)),
            OddFile(Path(os.fsdecode(bad_utf8)), (H, W))]
    return out


def _bad_files(d: Path) -> list[OddFile]:
    (d / "zero_bytes.png").write_bytes(b"")
    (d / "not_an_image.png").write_text("this is a text file, not a PNG\n")
    Image.fromarray(gradient_rgb(200, 200)).save(d / "full.png")
    data = (d / "full.png").read_bytes()
    (d / "full.png").unlink()
    (d / "truncated.png").write_bytes(data[: len(data) // 2])
    Image.fromarray(gradient_rgb(200, 200)).save(d / "full.jpg", quality=95)
    data = (d / "full.jpg").read_bytes()
    (d / "full.jpg").unlink()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 2])
    write_raw_png(d / "bomb.png", np.zeros((1, 1), np.uint8), 0, 8, size=(30000, 30000))
    out = [OddFile(d / "zero_bytes.png", error="empty file"),
           OddFile(d / "not_an_image.png", error="not an image"),
           OddFile(d / "truncated.png", error="truncated"),
           OddFile(d / "truncated.jpg", error="truncated"),
           OddFile(d / "bomb.png", error="too large")]
    Image.fromarray(gradient_rgb()).save(d / "no_permission.png")
    os.chmod(d / "no_permission.png", 0)
    if os.geteuid() != 0:  # root reads anything: that case is checked only as a user
        out.append(OddFile(d / "no_permission.png", error="permission denied"))
    else:
        out.append(OddFile(d / "no_permission.png", (H, W)))
    return out


def make_odd_folder(folder: Path, big: bool = False) -> list[OddFile]:
    """Fill ``folder`` with odd files; return what reading each one must give."""
    folder.mkdir(parents=True, exist_ok=True)
    files = _good_files(folder) + _bad_files(folder)
    if big:
        files.append(make_big_jpeg(folder / "big_12000x9000.jpg"))
    return files


def make_big_jpeg(path: Path, width: int = 12000, height: int = 9000) -> OddFile:
    """Write a mostly-constant greyscale JPEG with a bright square (fast to write)."""
    arr = np.full((height, width), 90, np.uint8)
    arr[height // 4: height // 2, width // 4: width // 2] = 200
    Image.fromarray(arr).save(path, quality=80)
    return OddFile(path, (height, width))
