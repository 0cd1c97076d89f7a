"""The network: backbones, the few-shot teacher, the distilled student, the shared head,
the per-pixel paths, the whole model and its file; and the compute device.  Imports
:mod:`engine.io` only."""
