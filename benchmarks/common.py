"""Shared helpers of the benchmark scripts: datasets, support draws, timing."""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.io.images import list_images, read_image, read_mask
from engine.nn.allocator import keep_freed_memory

keep_freed_memory()  # as the product's entry points do (DISTILLFSS_MALLOC=system: glibc's default)

DEFAULT_DATA = ROOT.parent / "shared" / "datasets"
DATASETS = ("nuclei_dsb2018", "polyps_endotect2021", "magnetic_tile_defects", "cwfid_weeds",
            "crackforest_road_cracks")


def load_dataset(root: Path, name: str) -> tuple[list[Path], list[Path]]:
    """Image paths and their mask paths (same stem, PNG)."""
    images = list_images(root / name / "images")
    masks = [root / name / "masks" / f"{p.stem}.png" for p in images]
    keep = [(i, m) for i, m in zip(images, masks) if m.is_file()]
    return [i for i, _ in keep], [m for _, m in keep]


def binary_mask(path: Path) -> np.ndarray:
    """Mask as 0/1 uint8 (any non-zero value is foreground)."""
    return (read_mask(path) > 0).astype(np.uint8)


def draw_supports(masks: list[Path], k: int, seed: int) -> list[int]:
    """``k`` random indices (seeded) among images whose mask has foreground."""
    rng = np.random.default_rng(seed)
    candidates = [i for i, m in enumerate(masks) if binary_mask(m).any()]
    return sorted(int(i) for i in rng.choice(candidates, size=k, replace=False))


def load_pairs(images: list[Path], masks: list[Path], idx: list[int]):
    """Read the images and binary masks at ``idx``."""
    return [read_image(images[i]) for i in idx], [binary_mask(masks[i]) for i in idx]


SPEED_SUPPORTS = (0, 24, 49, 74, 99)  # the nuclei images the speed benchmarks learn from


@dataclass(frozen=True)
class SpeedSet:
    """The nuclei set of the speed benchmarks: all paths and masks, the 5 support images and
    their 0/1 masks, and the paths of the other images (the test images)."""

    paths: list[Path]
    masks: list[Path]
    images: list[np.ndarray]
    support_masks: list[np.ndarray]
    rest: list[Path]


def speed_set(root: Path = DEFAULT_DATA) -> SpeedSet:
    """Load :class:`SpeedSet` from ``root``."""
    paths, masks = load_dataset(root, "nuclei_dsb2018")
    images, sup_masks = load_pairs(paths, masks, list(SPEED_SUPPORTS))
    rest = [p for i, p in enumerate(paths) if i not in SPEED_SUPPORTS]
    return SpeedSet(paths, masks, images, sup_masks, rest)


def quick_model(images, masks, device: str | None, **overrides):
    """A model learned briefly (10 steps, no leave-one-out): for measuring costs, which
    depend on the architecture, not on how well it learned."""
    from engine.learning.train import GpuSettings, LearnConfig

    cfg = {"max_steps": 10, "loo_steps": 0, "gpu": GpuSettings(max_steps=10), **overrides}
    return run_learn(images, masks, LearnConfig(device=device, **cfg))


def median_time(fn, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run_learn(images, masks, cfg):
    """Learn one foreground class from ``images`` / ``masks`` with ``LearnConfig`` ``cfg``,
    without progress output; returns the model."""
    from engine import fit
    from engine.io.labels import ClassInfo

    return fit(images, masks, [ClassInfo(1, "fg")], cfg)


def write_result(path: Path, text: str) -> None:
    """Write a benchmark's Markdown ``text`` to ``path`` (making its folder) and print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text)


def mean_sd(values: list[float]) -> str:
    """``mean ± sd`` of the non-NaN ``values`` (one value as itself, none as a dash)."""
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def worst(values: list[float]) -> str:
    """The lowest non-NaN value (the worst draw), or a dash."""
    values = [v for v in values if not np.isnan(v)]
    return f"{min(values):.1f}" if values else "–"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def folder_iou(predict, images, masks, test: list[int]) -> float:
    """Foreground IoU (%) of ``predict`` accumulated over the test images."""
    from engine.learning.metrics import IoUAccumulator

    acc = IoUAccumulator(1)
    for i in test:
        acc.add(predict(read_image(images[i])), binary_mask(masks[i]))
    return acc.mean() * 100


def test_indices(n: int, idx: list[int], max_test: int | None, seed: int) -> list[int]:
    """The images not drawn as supports (a seeded subset of ``max_test`` when given)."""
    rest = [i for i in range(n) if i not in idx]
    if max_test is not None and len(rest) > max_test:
        rest = sorted(np.random.default_rng(1000 + seed).choice(rest, max_test, replace=False))
    return [int(i) for i in rest]
