"""``distillfss export`` and ``distillfss import``.

``register(subparsers)`` adds the two subcommands to the main parser; each sets
``func`` to a function ``args -> exit code``: 0 when everything was exported/imported,
3 when some files were skipped (one line each on stderr), 1 when nothing could be done.

The project is found from ``--project DIR``: DIR is either the image folder (holding
``.distillfss/``) or the project folder itself (holding ``project.json``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.io.formats import (
    EXPORT_FORMATS,
    IMPORT_FORMATS,
    FormatError,
    import_labels,
)
from engine.io.formats.exchange import (
    import_into_project,
    open_project,
    project_labels,
    write_format,
)
from engine.io.images import display_name

from .common import EXIT_ERROR, EXIT_OK, EXIT_SKIPPED


def register(subparsers: Any) -> None:
    """Add ``export`` and ``import`` to an ``argparse`` subparsers object."""
    exp = subparsers.add_parser(
        "export", help="export a project's labels as PNG, COCO, YOLO or labelme",
        description="Export the accepted labels of a project (and, with --include-predictions, "
                    "the predictions of images without a label).")
    exp.add_argument("--project", required=True, type=Path,
                     help="image folder (holding .distillfss/) or project folder")
    exp.add_argument("--format", required=True, choices=EXPORT_FORMATS, dest="fmt")
    exp.add_argument("--out", required=True, type=Path, help="output folder")
    exp.add_argument("--include-predictions", action="store_true",
                     help="also export predictions of images that have no human label")
    exp.set_defaults(func=run_export)
    imp = subparsers.add_parser(
        "import", help="bring existing labels into a project as support masks",
        description="Import labels (COCO JSON, YOLO txt, labelme JSON or PNG masks) as support "
                    "masks of the project's images, matched by file stem.")
    imp.add_argument("--format", required=True, choices=IMPORT_FORMATS, dest="fmt")
    imp.add_argument("--input", required=True, type=Path,
                     help="COCO JSON file, YOLO dataset/labels folder, labelme JSON file or "
                          "folder, or a folder of PNG masks")
    imp.add_argument("--project", required=True, type=Path,
                     help="image folder (holding .distillfss/) or project folder")
    imp.add_argument("--overwrite", action="store_true",
                     help="replace human labels that already exist (default: keep them)")
    imp.set_defaults(func=run_import)


def run_export(args: argparse.Namespace) -> int:
    """``distillfss export``: write the project's labels in ``args.fmt`` to ``args.out``."""
    from engine.io.project import PROJECT_DIRNAME, ProjectError

    root = Path(args.project)
    if not ((root / PROJECT_DIRNAME / "project.json").is_file()
            or (root / "project.json").is_file()):
        return _fail(f"no DistillFSS project in {display_name(root)}")
    try:
        project = open_project(root, read_only=True)
    except (ProjectError, OSError) as exc:
        return _fail(f"cannot open the project: {exc}")
    masks = project_labels(project, args.include_predictions)
    try:
        notes = write_format(args.fmt, masks, project.classes, args.out, project.image_folder)
    except (OSError, ValueError) as exc:
        return _fail(f"export failed: {exc}")
    what = "labels and predictions" if args.include_predictions else "labels"
    print(f"exported {len(masks) - len(notes)} {what} as {args.fmt} to {display_name(args.out)}")
    return _finish(notes)


def run_import(args: argparse.Namespace) -> int:
    """``distillfss import``: read labels of ``args.fmt`` and save them as support masks."""
    from engine.io.project import ProjectError

    try:
        project = open_project(Path(args.project), read_only=False)
    except (ProjectError, OSError) as exc:
        return _fail(f"cannot open the project: {exc}")
    try:
        if project.read_only:
            return _fail("the project is open in another DistillFSS window; close it first")
        imported = import_labels(args.fmt, args.input, project.image_folder)
        written, notes = import_into_project(project, imported, overwrite=args.overwrite)
    except (FormatError, ValueError, OSError) as exc:
        return _fail(str(exc))
    finally:
        project.close()
    print(f"imported {written} label maps into {display_name(project.root)}")
    return _finish(imported.notes + notes)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _finish(notes: list[str]) -> int:
    for note in notes:
        print(note, file=sys.stderr)
    return EXIT_SKIPPED if notes else EXIT_OK
