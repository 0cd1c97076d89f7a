"""Implementations of ``distillfss learn``, ``label`` and ``eval`` (see :mod:`engine.cli`)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from .cli import EXIT_OK, EXIT_SKIPPED, CliError, progress_bar
from .io import list_images
from .run import drive
from .verdict import CAVEAT, coverage, verdict


def run_learn(gen, bar_desc: str = "learn"):
    """Drive a learn generator with a progress bar; returns the model."""
    bars: dict = {"bar": None, "phase": None}

    def show(p) -> None:
        if p.phase == "trained":  # the model before the leave-one-out folds: not needed
            return
        if p.phase != bars["phase"]:
            if bars["bar"] is not None:
                bars["bar"].close()
            bars["phase"] = p.phase
            bars["bar"] = progress_bar(p.total_steps, f"{bar_desc}: {p.phase}", "step")
        bar = bars["bar"]
        bar.total, bar.n = p.total_steps, p.step
        if p.phase != "features":
            bar.set_postfix(loss=f"{p.loss:.3f}", refresh=False)
        bar.refresh()

    try:
        return drive(gen, show)
    finally:
        if bars["bar"] is not None:
            bars["bar"].close()


def cmd_learn(args: argparse.Namespace) -> int:
    """``distillfss learn``: pick supports, learn, save the model, print the LOO estimate."""
    from .model import ClassInfo, DEFAULT_COLORS
    from .modelfile import save_model
    from .supports import choose_supports, load_supports
    from .train import LearnConfig, learn

    paths = choose_supports(args.images, args.masks, args.shots, args.seed, args.support_list)
    images, masks = load_supports(paths, args.masks)
    n = int(max(m.max() for m in masks))
    names = [s.strip() for s in args.class_names.split(",")] if args.class_names else []
    if names and len(names) != n:
        raise CliError(f"--class-names gives {len(names)} name(s) but the masks have {n} class(es)")
    names = names or ([args.masks.name or "class1"] if n == 1 else [f"class{i}" for i in range(1, n + 1)])
    classes = [ClassInfo(i + 1, nm, DEFAULT_COLORS[i % len(DEFAULT_COLORS)]) for i, nm in enumerate(names)]
    cfg = LearnConfig(seed=args.seed, device=args.device)
    if args.time_budget is not None:  # on every device (the GPU settings have their own)
        cfg = replace(cfg, time_budget_s=args.time_budget,
                      gpu=replace(cfg.gpu, time_budget_s=args.time_budget))
    if args.max_steps is not None:  # on every device (the GPU settings have their own)
        cfg = replace(cfg, max_steps=args.max_steps,
                      gpu=replace(cfg.gpu, max_steps=args.max_steps))
    if args.input_size is not None:
        if args.input_size < 64 or args.input_size % 32:
            raise CliError("--input-size must be a multiple of 32, at least 64")
        # As given (crops are capped to it), not shrunk for large objects.
        cfg = replace(cfg, input_size=args.input_size, object_scale=False)
    if args.no_loo:
        cfg = replace(cfg, loo_steps=0)
    print(f"learning {', '.join(names)} from {len(paths)} image(s): "
          f"{', '.join(p.name for p in paths)}", file=sys.stderr)
    model = run_learn(learn(images, masks, classes, cfg))
    model.metadata["support_files"] = [p.name for p in paths]
    save_model(model, args.out)
    print(f"model saved to {args.out} ({model.metadata['steps']} steps, "
          f"{model.metadata['train_seconds']:.1f} s)")
    if model.metadata.get("stopped_by_time"):
        print(f"warning: training hit the {model.metadata['train_settings']['time_budget_s']:.0f} s "
              "safety limit before its "
              f"{cfg.max_steps} steps; this model depends on the machine's speed "
              "(raise --time-budget to train it fully)", file=sys.stderr)
    print(describe_loo(model.metadata))
    return EXIT_OK


def describe_loo(meta: dict) -> str:
    """One line: the leave-one-out IoU estimate and a plain-words verdict."""
    miou = meta.get("loo_miou")
    if miou is None:
        return "leave-one-out estimate: not available (needs at least 2 support images)"
    per = ", ".join(f"{k} {v * 100:.1f}" for k, v in meta.get("loo_iou", {}).items()
                    if v is not None)
    per_support = meta.get("loo_per_support")
    lines = [f"leave-one-out IoU estimate: {miou * 100:.1f} ({per}) — "
             f"{verdict(miou, per_support)}"]
    cover = coverage(per_support, meta.get("support_files"))
    if cover:
        lines.append(f"  {cover}")
    lines.append(f"  ({CAVEAT})")
    return "\n".join(lines)


def cmd_label(args: argparse.Namespace) -> int:
    """``distillfss label``: predict every image; exit 3 if some could not be read."""
    from .batch import label_folder
    from .predict import Predictor

    images = list_images(args.input)
    if not images:
        raise CliError(f"no images found in {args.input}")
    predictor = Predictor.from_file(args.model, args.device, flip_average=args.flip_average)
    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    skipped, labelled = [], []
    bar = progress_bar(len(images), "label", "img")
    try:
        for rec in label_folder(predictor, images, args.output, batch_size=args.batch_size,
                                resume=not args.no_resume):
            bar.update(1)
            bar.set_postfix(img_s=f"{rec.images_per_s:.1f}", refresh=False)
            if rec.status == "failed":
                bar.write(f"skipped: {rec.message}", file=sys.stderr)
                skipped.append(rec.path)
            else:
                labelled.append(rec.path)
    finally:
        bar.close()
    if args.fmt != "png":
        _write_format(args, predictor, labelled)
    print(f"labelled {len(labelled)} image(s) into {args.output}"
          + (f"; skipped {len(skipped)}" if skipped else ""))
    return EXIT_SKIPPED if skipped else EXIT_OK


def _write_format(args: argparse.Namespace, predictor, labelled: list[Path]) -> None:
    from .batch import output_names
    from .formats.cli import write_format

    names = output_names(list_images(args.input))
    masks = {names[p][:-4]: (p, Path(args.output) / names[p]) for p in labelled}
    classes = {c.id: c.name for c in predictor.classes}
    for note in write_format(args.fmt, masks, classes, args.output, args.input):
        print(note, file=sys.stderr)  # each note already names the file and says "(skipped)"


def cmd_eval(args: argparse.Namespace) -> int:
    """``distillfss eval``: per-class and mean foreground IoU over all images with a mask."""
    from .io import read_image, read_mask
    from .metrics import IoUAccumulator
    from .predict import Predictor
    from .supports import _folder, mask_for

    _folder(args.masks, "masks")
    predictor = Predictor.from_file(args.model, args.device, flip_average=args.flip_average)
    pairs = [(p, mask_for(p, args.masks)) for p in list_images(args.images)]
    pairs = [(p, m) for p, m in pairs if m is not None]
    if not pairs:
        raise CliError(f"no image in {args.images} has a mask in {args.masks}")
    acc = IoUAccumulator(len(predictor.classes))
    for p, m in pairs:
        target = read_mask(m)
        pred = predictor.predict(read_image(p)).labels
        acc.add(pred, target)
    for c, v in zip(predictor.classes, acc.per_class()):
        print(f"{c.name:20s} IoU {v * 100:6.2f}")
    print(f"{'mean':20s} IoU {acc.mean() * 100:6.2f}  ({len(pairs)} images)")
    return EXIT_OK
