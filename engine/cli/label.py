"""``distillfss label``: one process, one shard (``--shard I/N``), the shards' merge
(``--merge``) or a Ray cluster (``--ray``); see :mod:`engine.cli` for the arguments."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.io.images import display_name, list_images

if TYPE_CHECKING:
    from engine.infer.expected import ExpectedIoU

from .common import EXIT_OK, EXIT_SKIPPED, CliError, describe_folder_estimate, progress_bar


def cmd_label(args: argparse.Namespace) -> int:
    """``distillfss label``: predict every image (of the shard); exit 3 if some could not be
    read, or, with ``--merge``, if some images have no output yet."""
    from engine.infer.predict import Predictor
    from engine.infer.shard import Shard

    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    modes = [m for m in ("shard", "merge", "ray") if getattr(args, m, None)]
    if len(modes) > 1:
        raise CliError(f"--{modes[0]} and --{modes[1]} cannot be combined")
    if getattr(args, "ray_address", None) and not args.ray:
        raise CliError("--ray-address needs --ray")
    try:
        shard = Shard.parse(args.shard) if args.shard else None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    images = list_images(args.input)
    if not images:
        raise CliError(f"no images found in {display_name(args.input)}")
    device = "cpu" if args.merge else args.device
    predictor = Predictor.from_file(args.model, device, flip_average=args.flip_average)
    if args.merge:
        return _merge(args, predictor, images)
    if args.ray:
        from engine.infer.ray_label import RayUnavailable, label_with_ray

        try:
            records = label_with_ray(args.model, images, args.output,
                                     batch_size=args.batch_size, resume=not args.no_resume,
                                     flip_average=args.flip_average, device=args.device,
                                     address=args.ray_address, actors=args.ray_actors)
            skipped, labelled, _ = _run(records, "label (ray)", len(images))
            print("estimated IoU: not computed on Ray (label without --ray for one)",
                  file=sys.stderr)
        except RayUnavailable as exc:
            raise CliError(str(exc)) from None
    else:
        from engine.infer.batch import label_folder

        records = label_folder(predictor, images, args.output, batch_size=args.batch_size,
                               resume=not args.no_resume, shard=shard)
        total = len(shard.select(images)) if shard else len(images)
        skipped, labelled, expected = _run(records, f"label {shard}" if shard else "label",
                                           total, len(predictor.classes))
        if shard is None:
            from engine.learning.estimate import no_estimate_reason

            meta = getattr(predictor.model, "metadata", {})
            examples = meta.get("num_support")
            reason = no_estimate_reason(bool(meta.get("refine")), args.flip_average,
                                        int(examples) if examples is not None else None,
                                        scribbled=bool(meta.get("scribbled_examples")))
            print(describe_folder_estimate(expected, reason), file=sys.stderr)
    if args.fmt != "png":
        if shard is not None:
            print(f"--format {args.fmt}: written by `distillfss label --merge --format "
                  f"{args.fmt}` once every shard has finished", file=sys.stderr)
        else:
            _write_format(args, predictor, images, labelled)
    where = f"shard {shard} of " if shard else ""
    print(f"labelled {len(labelled)} image(s) of {where}{args.input} into {args.output}"
          + (f"; skipped {len(skipped)}" if skipped else ""))
    return EXIT_SKIPPED if skipped else EXIT_OK


def _run(records: Iterable, desc: str, total: int | None, num_classes: int = 1
         ) -> tuple[list[Path], list[Path], ExpectedIoU]:
    """Loop over progress records with a bar; return (skipped, labelled or resumed) paths and
    the model's own IoU expectation over the images labelled in this run."""
    from engine.infer.expected import ExpectedIoU

    skipped, labelled = [], []
    expected = ExpectedIoU(num_classes)
    bar = progress_bar(total, desc, "img")
    try:
        for rec in records:
            if bar.total is None or bar.total != rec.total:
                bar.total = rec.total
            bar.update(1)
            bar.set_postfix(img_s=f"{rec.images_per_s:.1f}", refresh=False)
            if rec.status == "failed":
                bar.write(f"skipped: {rec.message}", file=sys.stderr)
                skipped.append(rec.path)
            else:
                labelled.append(rec.path)
                if getattr(rec, "expected", None) is not None:
                    expected.add_sums(rec.expected)
    finally:
        bar.close()
    return skipped, labelled, expected


def _merge(args: argparse.Namespace, predictor, images: list[Path]) -> int:
    """``--merge``: what every shard (and any other run) finished with this model; exports."""
    from engine.io.outputs import done_logs, output_names, read_done

    names = output_names(images)
    done = read_done(args.output, predictor.model_id)
    finished = [p for p in images if names[p] in done]
    missing = [p for p in images if names[p] not in done]
    logs = done_logs(args.output)
    print(f"merged {len(logs)} done log(s): {len(finished)} of {len(images)} image(s) "
          f"labelled with this model", file=sys.stderr)
    if args.fmt != "png":
        _write_format(args, predictor, images, finished)
    if missing:
        shown = ", ".join(display_name(p.name) for p in missing[:5])
        print(f"{len(missing)} image(s) have no output yet ({shown}"
              f"{', ...' if len(missing) > 5 else ''}): rerun the shards that hold them "
              "(unreadable images never get one)", file=sys.stderr)
        return EXIT_SKIPPED
    print(f"all {len(images)} image(s) of {args.input} labelled in {args.output}")
    return EXIT_OK


def _write_format(args: argparse.Namespace, predictor, images: list[Path],
                  labelled: list[Path]) -> None:
    from engine.io.formats.exchange import write_format
    from engine.io.outputs import output_names

    names = output_names(images)
    masks = {names[p][:-4]: (p, Path(args.output) / names[p]) for p in labelled}
    classes = {c.id: c.name for c in predictor.classes}
    for note in write_format(args.fmt, masks, classes, args.output, args.input):
        print(note, file=sys.stderr)  # each note already names the file and says "(skipped)"
