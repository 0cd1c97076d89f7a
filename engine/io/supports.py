"""Choosing and loading a support set from an image folder and a mask folder (CLI, demo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .images import ImageReadError, list_images, read_image, read_mask
from .labels import apply_ignore_value, class_pixels, has_painting


def mask_for(image: Path, masks_dir: Path) -> Path | None:
    """The mask PNG with the image's stem in ``masks_dir``, or None."""
    p = masks_dir / f"{image.stem}.png"
    return p if p.is_file() else None


def existing_folder(path: Path, what: str) -> Path:
    if not path.exists():
        raise ValueError(f"{what} folder not found: {path}")
    if not path.is_dir():
        raise ValueError(f"{what} is not a folder: {path}")
    return path


def choose_supports(images_dir: Path, masks_dir: Path, shots: int | None, seed: int,
                    support_list: Path | None, ignore_value: int | None = None) -> list[Path]:
    """The support images: those named in ``support_list``, or ``shots`` random images
    (seeded) among those whose mask has foreground (``ignore_value``: see
    :func:`read_support_mask`)."""
    images_dir = existing_folder(images_dir, "images")
    masks_dir = existing_folder(masks_dir, "masks")
    if support_list is not None:
        try:
            names = [n.strip() for n in support_list.read_text(encoding="utf-8").splitlines()]
        except OSError as exc:
            raise ValueError(f"cannot read support list {support_list}: {exc.strerror}") from None
        names = [n for n in names if n and not n.startswith("#")]
        if not names:
            raise ValueError(f"support list {support_list} names no image")
        chosen = []
        for n in names:
            p = images_dir / n
            if not p.is_file():
                raise ValueError(f"support image not found: {p}")
            chosen.append(p)
        return chosen
    if shots is None or shots < 1:
        raise ValueError("--shots must be at least 1")
    candidates = [p for p in list_images(images_dir) if mask_for(p, masks_dir) is not None]
    candidates = [p for p in candidates
                  if _has_foreground(mask_for(p, masks_dir), ignore_value)]
    if len(candidates) < shots:
        raise ValueError(f"--shots {shots}: only {len(candidates)} image(s) in {images_dir} have "
                         f"a non-empty mask in {masks_dir}")
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(candidates), size=shots, replace=False))
    return [candidates[i] for i in picked]


def _has_foreground(mask_path: Path | None, ignore_value: int | None) -> bool:
    try:
        return mask_path is not None and bool(
            class_pixels(read_support_mask(mask_path, ignore_value)).any())
    except (ImageReadError, ValueError):
        return False


def read_support_mask(path: Path, ignore_value: int | None = None) -> np.ndarray:
    """A mask file as class ids; with ``ignore_value``, pixels of that raw value become
    :data:`~engine.io.labels.NOT_PAINTED` (:func:`engine.io.labels.apply_ignore_value`)."""
    if ignore_value is None:
        return read_mask(path)
    try:
        return apply_ignore_value(read_mask(path, raw=True), ignore_value)
    except ValueError as exc:
        raise ValueError(f"mask {path.name}: {exc}") from None


def load_supports(paths: list[Path], masks_dir: Path, ignore_value: int | None = None
                  ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Read support images and masks; ``ValueError`` with one clear line on any problem.

    ``ignore_value``: mask pixels of that value are not painted (scribbles)."""
    images, masks = [], []
    for p in paths:
        m = mask_for(p, masks_dir)
        if m is None:
            raise ValueError(f"no mask for support image {p.name}: "
                             f"expected {masks_dir / (p.stem + '.png')}")
        try:
            im, mk = read_image(p), read_support_mask(m, ignore_value)
        except ImageReadError as exc:
            raise ValueError(str(exc)) from None
        if mk.shape != im.shape[:2]:
            raise ValueError(f"mask {m.name} is {mk.shape[1]}x{mk.shape[0]} but image {p.name} "
                             f"is {im.shape[1]}x{im.shape[0]}")
        if ignore_value is None and not mk.any():
            raise ValueError(f"mask {m.name} is empty (no foreground pixel): paint the class "
                             "or leave this image out of the support set")
        if not has_painting(mk):
            raise ValueError(f"mask {m.name} has no painted pixel (all {ignore_value}): "
                             "leave this image out of the support set")
        images.append(im)
        masks.append(mk)
    return images, masks
