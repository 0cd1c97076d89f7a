"""Auto-labelling a folder of camera-size JPEGs: decoded at reduced size vs in full.

Camera and phone photos (12 MP) are shrunk to a 384 px working size anyway; decoding them
at 1/2-1/8 scale (``engine.io.images.read_image_reduced``) skips most of the decode and the resize.
The photos are made from the weeds set's images (real field photos, 512 x 382): each is
scaled up to 4032 x 3010 with a little sensor-like noise and saved as a quality-90 JPEG (an
upscaled image alone would compress, and so decode, far faster than a real photo).  The
model learns from 5 of them (so the photos are resized, not tiled, as in a camera folder);
``label_folder`` then labels the others, with the reduced decode and with every image
decoded in full (``decode_long_side`` returning None), interleaved, medians of the repeats:

    python benchmarks/reduced_decode.py [--images 16] [--repeat 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import DEFAULT_DATA, binary_mask, load_dataset, markdown_table, quick_model
from PIL import Image

from engine.infer.batch import label_folder
from engine.infer.predict import Predictor
from engine.io.images import read_image, read_image_reduced, read_mask
from engine.nn.device import describe

SIZE = (4032, 3010)  # (w, h) of the made photos


def make_photos(folder: Path, n: int) -> tuple[list[Path], list[np.ndarray]]:
    """``n`` camera-size JPEGs from the weeds images, and their (upscaled) masks."""
    images, masks = load_dataset(DEFAULT_DATA, "cwfid_weeds")
    rng = np.random.default_rng(0)
    paths, out_masks = [], []
    for i in range(n):
        img = cv2.resize(read_image(images[i]), SIZE, interpolation=cv2.INTER_CUBIC)
        noise = rng.normal(0, 6, img.shape)
        img = np.clip(img + noise, 0, 255).astype(np.uint8)
        paths.append(folder / f"photo{i:03d}.jpg")
        Image.fromarray(img).save(paths[-1], quality=90)
        out_masks.append(cv2.resize(binary_mask(masks[i]), SIZE,
                                    interpolation=cv2.INTER_NEAREST))
    return paths, out_masks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=16, help="photos labelled per run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, nargs=2, default=(2, 1), metavar=("READERS", "WRITERS"),
                    help="label_folder's reader and writer threads (default 2 1)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "photos").mkdir()
        paths, masks = make_photos(tmp / "photos", args.images + 5)
        sup, test = paths[:5], paths[5:]
        model = quick_model([read_image(p) for p in sup], masks[:5], args.device)
        predictor = Predictor(model, args.device)
        full_decode = Predictor(model, args.device)
        full_decode.decode_long_side = lambda h, w: None  # every image read in full
        print(f"working size {predictor.input_size} px; photos {SIZE[0]} x {SIZE[1]}; "
              f"tiled: {predictor.is_tiled(SIZE[1], SIZE[0])}", flush=True)
        p0 = test[0]
        t = time.perf_counter()
        for _ in range(3):
            read_image(p0)
        full_ms = (time.perf_counter() - t) / 3 * 1000
        t = time.perf_counter()
        for _ in range(3):
            small = read_image_reduced(p0, predictor.decode_long_side(SIZE[1], SIZE[0]))[0]
        reduced_ms = (time.perf_counter() - t) / 3 * 1000
        rates: dict[str, list[float]] = {"reduced": [], "full": []}
        agree = []
        for r in range(args.repeat):
            for name, pr in (("reduced", predictor), ("full", full_decode)):
                out = tmp / f"{name}{r}"
                t = time.perf_counter()
                for _ in label_folder(pr, test, out, resume=False, threads=tuple(args.threads)):
                    pass
                rates[name].append(len(test) / (time.perf_counter() - t))
            if r == 0:
                agree = [(read_mask(tmp / "reduced0" / f"{p.stem}.png")
                          == read_mask(tmp / "full0" / f"{p.stem}.png")).mean() for p in test]
            print({k: round(v[-1], 2) for k, v in rates.items()}, flush=True)
    red, full = (statistics.median(rates[k]) for k in ("reduced", "full"))
    print()
    print(markdown_table(["measure", "decoded in full", "decoded reduced", "ratio"], [
        ["read one photo (ms)", f"{full_ms:.0f}",
         f"{reduced_ms:.0f} ({small.shape[1]} x {small.shape[0]})", f"{full_ms / reduced_ms:.1f}x"],
        ["auto-label end-to-end (img/s)", f"{full:.2f}", f"{red:.2f}", f"{red / full:.2f}x"],
    ]))
    print(f"\nLabels equal to the full decode's: {min(agree) * 100:.2f}-{max(agree) * 100:.2f} % "
          f"of the pixels per image.  {describe(predictor.device)}, {len(test)} photos per run, "
          f"medians of {args.repeat}, {args.threads[0]} reader / {args.threads[1]} writer "
          f"threads, {time.strftime('%Y-%m-%d')}")


if __name__ == "__main__":
    main()
