"""Implementations of ``distillfss learn`` and ``eval`` (see :mod:`engine.cli`; ``label`` is
in :mod:`engine.cli.label`)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from engine.io.images import list_images

from .common import EXIT_OK, CliError, describe_loo, run_learn


def cmd_learn(args: argparse.Namespace) -> int:
    """``distillfss learn``: pick supports, learn, save the model, print the LOO estimate."""
    from engine.io.labels import ClassInfo, default_color, is_sparse, num_classes
    from engine.io.supports import choose_supports, existing_folder, load_supports
    from engine.learning.train import LearnConfig, learn
    from engine.nn.modelfile import save_model

    if args.refine_on is not None:  # before a minute of learning, not after
        existing_folder(args.refine_on, "--refine-on")
        if args.refine_steps is not None and args.refine_steps < 1:
            raise CliError("--refine-steps must be at least 1")
    ignore = getattr(args, "ignore_value", None)
    if ignore is not None and not 0 <= ignore <= 255:
        raise CliError("--ignore-value must be a pixel value 0..255")
    paths = choose_supports(args.images, args.masks, args.shots, args.seed, args.support_list,
                            ignore_value=ignore)
    images, masks = load_supports(paths, args.masks, ignore_value=ignore)
    folder = [] if args.refine_on is None else refine_images(args.refine_on, paths)
    n = num_classes(masks)
    names = [s.strip() for s in args.class_names.split(",")] if args.class_names else []
    if names and len(names) != n:
        raise CliError(f"--class-names gives {len(names)} name(s) but the masks have {n} class(es)")
    names = names or ([args.masks.name or "class1"] if n == 1
                      else [f"class{i}" for i in range(1, n + 1)])
    classes = [ClassInfo(i + 1, nm, default_color(i + 1)) for i, nm in enumerate(names)]
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
    if getattr(args, "backbone", None):
        from engine.nn.backbones import available_backbones

        if args.backbone not in available_backbones():
            raise CliError(f"unknown --backbone {args.backbone!r}; available: "
                           f"{', '.join(available_backbones())}")
        cfg = replace(cfg, head=replace(cfg.head, backbone=args.backbone))
    if args.no_loo:
        cfg = replace(cfg, loo_steps=0)
    sparse = sum(is_sparse(m) for m in masks)
    print(f"learning {', '.join(names)} from {len(paths)} image(s): "
          f"{', '.join(p.name for p in paths)}"
          + (f" ({sparse} with unpainted pixels, ignored)" if sparse else ""), file=sys.stderr)
    model = run_learn(learn(images, masks, classes, cfg))
    model.metadata["support_files"] = [p.name for p in paths]
    save_model(model, args.out)
    print(f"model saved to {args.out} ({model.metadata['steps']} steps, "
          f"{model.metadata['train_seconds']:.1f} s)")
    if model.metadata.get("stopped_by_time"):
        budget = model.metadata["train_settings"]["time_budget_s"]
        print(f"warning: training hit the {budget:.0f} s "
              "safety limit before its "
              f"{cfg.max_steps} steps; this model depends on the machine's speed "
              "(raise --time-budget to train it fully)", file=sys.stderr)
    print(describe_loo(model.metadata))
    if folder:
        refine_on(model, images, masks, folder, cfg, args)
    return EXIT_OK


def refine_images(folder, support_paths) -> list:
    """The images of ``folder`` (``--refine-on``) that are not examples; CliError if none."""
    taken = {p.resolve() for p in support_paths}
    rest = [p for p in list_images(folder) if p.resolve() not in taken]
    if not rest:
        raise CliError(f"--refine-on: no image in {folder} besides the examples")
    return rest


def refine_on(model, images, masks, folder, cfg, args) -> None:
    """``learn --refine-on DIR``: refine the saved model on DIR's other images, save it over
    ``--out`` (the learned model stays there if refining fails or is cancelled)."""
    from engine.io.images import read_image
    from engine.nn.modelfile import save_model
    from engine.refine import RefineConfig, refine

    out = args.out
    print(f"refining on {args.refine_on} ({len(folder)} image(s))", file=sys.stderr)
    settings = RefineConfig() if args.refine_steps is None else RefineConfig(
        steps=args.refine_steps)
    try:
        refined = run_learn(refine(model, images, masks,
                                   [lambda p=p: read_image(p) for p in folder], cfg, settings),
                            "refine")
    except ValueError as e:
        raise CliError(f"not refined ({e}); the learned model is in {out}") from e
    save_model(refined, out)
    info = refined.metadata["refine"]
    print(f"refined model saved to {out} ({info['images']} image(s) of {args.refine_on} "
          f"pseudo-labelled, {info['painted_mean'] * 100:.0f} % of their pixels confident)")


def cmd_eval(args: argparse.Namespace) -> int:
    """``distillfss eval``: per-class and mean foreground IoU over all images with a mask."""
    from engine.infer.predict import Predictor
    from engine.io.images import read_image, read_mask
    from engine.io.supports import existing_folder, mask_for
    from engine.learning.metrics import IoUAccumulator

    existing_folder(args.masks, "masks")
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
