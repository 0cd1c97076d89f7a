"""How the backbone runs on a CPU, interleaved in one run on the same model and images:

- the engine before 2026-11-26: default (NCHW) layout, activations out of place;
- channels-last layout, activations out of place;
- channels-last, in-place ReLU6 and residual add (the engine now).

    python benchmarks/backbone_variants.py [--images 40] [--repeat 3]

Prints backbone-only, predict-only and end-to-end img/s (medians of ``--repeat``) per variant.
The model is learned for 10 steps only: speed does not depend on how well it was trained.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import markdown_table, quick_model, speed_set
from speed import backbone_inputs, backbone_rate, rate
from torch.nn import functional as F

from engine.infer.batch import label_folder
from engine.infer.predict import Predictor
from engine.io.images import read_image
from engine.nn.backbones import Backbone
from engine.nn.backbones.efficientnet_lite import _MBConv

_ENGINE_FORWARD = _MBConv.forward


def _out_of_place_forward(self: _MBConv, x: torch.Tensor) -> torch.Tensor:
    h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
    h = F.relu6(self._bn1(self._depthwise_conv(h)))
    h = self._bn2(self._project_conv(h))
    return h + x if self.residual else h


VARIANTS = {  # name: (layout, block forward)
    "NCHW, out of place (before)": (torch.contiguous_format, _out_of_place_forward),
    "channels-last, out of place": (torch.channels_last, _out_of_place_forward),
    "channels-last, in place (now)": (torch.channels_last, _ENGINE_FORWARD),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = speed_set()
    model = quick_model(data.images, data.support_masks, "cpu", time_budget_s=None,
                        max_steps=10, min_steps=1)
    predictor = Predictor(model, "cpu")
    test_paths = data.rest[: args.images]
    images = [read_image(p) for p in test_paths]
    b = args.batch_size
    res = {name: {"bb": [], "only": [], "e2e": []} for name in VARIANTS}
    inputs = backbone_inputs(predictor, images, b)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            for v, (name, (layout, forward)) in enumerate(VARIANTS.items()):
                Backbone.cpu_layout = layout
                _MBConv.forward = forward  # type: ignore[method-assign]
                list(label_folder(predictor, test_paths[:4], Path(tmp) / f"warm{r}{v}"))
                res[name]["bb"].append(backbone_rate(predictor, inputs))
                chunks = [images[i:i + b] for i in range(0, len(images), b)]
                res[name]["only"].append(rate(predictor.predict_batch, chunks) * b)
                t = time.perf_counter()
                list(label_folder(predictor, test_paths, Path(tmp) / f"out{r}{v}",
                                  batch_size=b, resume=False))
                res[name]["e2e"].append(len(test_paths) / (time.perf_counter() - t))
    rows = []
    for name, v in res.items():
        bb, only, e2e = (statistics.median(v[k]) for k in ("bb", "only", "e2e"))
        rows.append([name, f"{bb:.2f}", f"{only:.2f}", f"{e2e:.2f}", f"{e2e / bb * 100:.0f} %"])
    _MBConv.forward = _ENGINE_FORWARD  # type: ignore[method-assign]
    Backbone.cpu_layout = torch.channels_last
    print(markdown_table(["backbone", "backbone img/s", "predict img/s",
                          "end-to-end img/s", "end-to-end / backbone"], rows))
    print(f"\nCPU, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"{len(test_paths)} nuclei images, batch {b}, {time.strftime('%Y-%m-%d')}.")


if __name__ == "__main__":
    main()
