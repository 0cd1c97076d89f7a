"""The ``distillfss`` command: the GUI with no arguments, headless subcommands otherwise.

``learn``, ``label``, ``eval`` and ``demo`` loop over the same engine generators as the GUI
(:func:`engine.train.learn`, :func:`engine.batch.label_folder`) with a progress bar on stderr.
Expected problems (missing folder, unreadable image, bad mask, damaged model) print one line
and exit non-zero; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Sequence

from . import __version__

EXIT_OK, EXIT_ERROR, EXIT_SKIPPED, EXIT_CANCELLED = 0, 1, 3, 130


class CliError(ValueError):
    """An expected failure: printed as one line, exit code ``EXIT_ERROR``."""


FLIP_HELP = ("average the predictions over the image and its mirror images: better labels "
             "(+1 to +2 IoU points on the benchmark sets), ~3x the prediction time on a CPU")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all subcommands."""
    p = argparse.ArgumentParser(prog="distillfss", description=(
        "Teach a segmentation class from a few masks, then label a folder. "
        "With no command, opens the desktop app."))
    p.add_argument("--version", action="version", version=f"distillfss {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    g = sub.add_parser("gui", help="open the desktop app")
    g.add_argument("folder", nargs="?", help="image folder to open")
    g.set_defaults(func=cmd_gui)
    _add_learn(sub)
    _add_label(sub)
    e = sub.add_parser("eval", help="IoU of a model on images with ground-truth masks")
    e.add_argument("--model", required=True, type=Path)
    e.add_argument("--images", required=True, type=Path)
    e.add_argument("--masks", required=True, type=Path)
    e.add_argument("--device", default=None)
    e.add_argument("--flip-average", action="store_true", help=FLIP_HELP)
    e.set_defaults(func=_lazy("engine.cli_commands", "cmd_eval"))
    d = sub.add_parser("demo", help="learn nuclei from 5 bundled images and label the rest")
    d.add_argument("--out", type=Path, default=Path("distillfss-demo"),
                   help="output folder (default: ./distillfss-demo)")
    d.add_argument("--device", default=None)
    d.set_defaults(func=_lazy("engine.demo", "cmd_demo"))
    try:
        from .formats.cli import register
    except ImportError:  # pragma: no cover - formats package incomplete
        register = None
    if register is not None:
        register(sub)
    return p


def _add_learn(sub) -> None:
    s = sub.add_parser("learn", help="learn classes from a few images and masks")
    s.add_argument("--images", required=True, type=Path, help="folder of images")
    s.add_argument("--masks", required=True, type=Path,
                   help="folder of mask PNGs named like the images (0/255 or class ids)")
    pick = s.add_mutually_exclusive_group(required=True)
    pick.add_argument("--shots", type=int, help="number of support images, picked at random")
    pick.add_argument("--support-list", type=Path, help="text file: one image file name a line")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--out", required=True, type=Path, help="model file to write")
    s.add_argument("--class-names", default=None, help="comma-separated names of classes 1..N")
    s.add_argument("--device", default=None, help="auto (default), cpu, cuda or mps")
    s.add_argument("--max-steps", type=int, default=None,
                   help="training steps (default 150 on a CPU, 160 on a GPU): the same seed "
                        "gives the same model however busy the machine is")
    s.add_argument("--time-budget", type=float, default=None,
                   help="safety limit in seconds of training (default 600 on a CPU, 60 on "
                        "a GPU); a run it cuts short is reported")
    s.add_argument("--input-size", type=int, default=None,
                   help="long side images are resized to (default 384, or down to 256 "
                        "when the objects are large; multiple of 32)")
    s.add_argument("--no-loo", action="store_true", help="skip the leave-one-out estimate")
    s.add_argument("--ignore-value", type=int, default=None, metavar="V",
                   help="mask pixels equal to V are not painted (scribbles: e.g. 0 background "
                        "strokes, 255 class strokes, 128 elsewhere); the losses skip them")
    s.set_defaults(func=_lazy("engine.cli_commands", "cmd_learn"))


def _add_label(sub) -> None:
    s = sub.add_parser("label", help="label every image of a folder with a model")
    s.add_argument("--model", required=True, type=Path)
    s.add_argument("--input", required=True, type=Path, help="folder of images")
    s.add_argument("--output", required=True, type=Path, help="folder for <stem>.png outputs")
    s.add_argument("--device", default=None)
    s.add_argument("--batch-size", type=int, default=4)
    s.add_argument("--format", dest="fmt", default="png",
                   choices=("png", "coco", "yolo", "labelme"),
                   help="also write COCO / YOLO-seg / labelme files (PNG masks always)")
    s.add_argument("--no-resume", action="store_true", help="redo images already labelled")
    s.add_argument("--flip-average", action="store_true", help=FLIP_HELP)
    big = s.add_argument_group("large folders (README: Large folders)")
    big.add_argument("--shard", default=None, metavar="I/N",
                     help="label only shard I of N (I counts from 0: 0/4 .. 3/4), chosen by a "
                          "hash of the file name; shards may share one --output folder")
    big.add_argument("--merge", action="store_true",
                     help="after the shards: report what all of them labelled with this model "
                          "and write the --format export over all of it")
    big.add_argument("--ray", action="store_true",
                     help="label on a Ray cluster, one model per actor (needs "
                          "pip install distillfss-studio[ray])")
    big.add_argument("--ray-address", default=None, metavar="ADDR",
                     help="Ray cluster to join (default: RAY_ADDRESS, else a local Ray)")
    big.add_argument("--ray-actors", type=int, default=None, metavar="N",
                     help="actors (default: one per GPU, else one per CPU of the cluster)")
    s.set_defaults(func=_lazy("engine.label_command", "cmd_label"))


def _lazy(module: str, name: str):
    """Import command implementations only when run (keeps ``--help`` and the GUI fast)."""
    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), name)(args)
    return run


def cmd_gui(args: argparse.Namespace) -> int:
    """Open the desktop app (imported by name: the engine never imports the app statically)."""
    try:
        gui = importlib.import_module("app.main")
    except ImportError as exc:
        raise CliError(f"the desktop app cannot start: {exc}") from None
    return int(gui.run_gui(getattr(args, "folder", None)) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``distillfss`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        args.func, args.folder = cmd_gui, None
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("distillfss: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except (CliError, ValueError, OSError) as exc:
        print(f"distillfss: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def progress_bar(total: int, desc: str, unit: str = "it"):
    """A tqdm bar on stderr; redrawn at most every 0.2 s on a terminal, every 5 s otherwise."""
    from tqdm import tqdm

    tty = sys.stderr is not None and sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                mininterval=0.2 if tty else 5.0)


if __name__ == "__main__":  # pragma: no cover - PyInstaller entry
    sys.exit(main())
