"""Moving batches of images to a GPU through reusable page-locked (pinned) host buffers.

A copy from ordinary (pageable) host memory to a CUDA GPU is synchronous: the CPU waits for
it, then launches the forward pass.  From page-locked memory the copy is a DMA that the GPU
runs on its own (``non_blocking=True``): the thread goes straight on to launch the forward
pass and to resize the next group of the batch while the GPU copies and computes, and the
reader threads of :func:`engine.infer.batch.label_folder` keep decoding the next batch
meanwhile.  Page-locking is slow to allocate, so :class:`HostStaging` keeps its buffers and
only grows them.  It resizes and pads each image straight into its buffer (no ``np.stack``
copy).

Only CUDA has page-locked copies (:func:`pins`); on a CPU or MPS the predictor stacks the batch
as before and does not use this module.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import torch

from engine.io.resize import resize_image


def pins(device: torch.device) -> bool:
    """Whether batches for ``device`` go through pinned host buffers: on CUDA only."""
    return device.type == "cuda"


def padded(n: int, multiple: int = 32) -> int:
    """``n`` rounded up to a multiple of ``multiple`` (as
    :func:`engine.io.resize.pad_to_multiple` pads)."""
    return n + (-n % multiple)


class HostStaging:
    """Reusable host buffers that batches are assembled in and copied to ``device`` from.

    Parameters
    ----------
    device : where :meth:`stage` puts the batch.
    pin : page-lock the buffers and copy with ``non_blocking=True``; default :func:`pins`.
        ``pin=False`` keeps the same buffers in ordinary memory (tests run it on a CPU).
    slots : buffers used in turn.  A buffer is written again only once the copy from it has
        finished (a CUDA event is waited for), so with two the next batch is assembled while the
        last one is still being copied.

    Thread-safe: one lock around :meth:`stage` (two jobs may share a predictor).
    """

    def __init__(self, device: torch.device, *, pin: bool | None = None, slots: int = 2) -> None:
        if slots < 1:
            raise ValueError("HostStaging needs at least one slot")
        self.device = device
        self.pin = pins(device) if pin is None else bool(pin)
        self._buffers: list[torch.Tensor | None] = [None] * slots
        self._copied: list[torch.cuda.Event | None] = [None] * slots
        self._next = 0
        self._lock = threading.Lock()

    def buffer(self, slot: int) -> torch.Tensor | None:
        """The flat ``uint8`` host buffer of ``slot`` (None before its first use)."""
        return self._buffers[slot]

    def stage(self, images: Sequence[np.ndarray], size: tuple[int, int],
              rows: int | None = None) -> torch.Tensor:
        """``(rows, H, W, 3) uint8`` on the device: each ``(h, w, 3) uint8`` image resized to
        ``size`` = (h, w) (:func:`engine.io.resize.resize_image`), its bottom and right edges
        replicated up to multiples of 32 (as :func:`engine.io.resize.pad_to_multiple`), then
        ``rows - len(images)`` rows of zeros (default none).

        With ``pin`` the copy may still be running when this returns; work queued on the
        device's current stream sees the finished copy.  On a CPU the result is the buffer
        itself, valid until its slot is staged into again.
        """
        n = len(images)
        rows = n if rows is None else rows
        if n < 1 or rows < n:
            raise ValueError(f"cannot stage {n} images in {rows} rows")
        h, w = size
        shape = (rows, padded(h), padded(w), 3)
        with self._lock:
            slot, self._next = self._next, (self._next + 1) % len(self._buffers)
            if self._copied[slot] is not None:
                self._copied[slot].synchronize()  # the last copy from this buffer is done
                self._copied[slot] = None
            host = self._grown(slot, int(np.prod(shape)))[: int(np.prod(shape))].view(shape)
            fill(host.numpy(), images, size)
            x = host.to(self.device, non_blocking=self.pin)
            if self.pin and self.device.type == "cuda":
                self._copied[slot] = torch.cuda.Event()
                self._copied[slot].record(torch.cuda.current_stream(self.device))
            return x

    def _grown(self, slot: int, nbytes: int) -> torch.Tensor:
        buf = self._buffers[slot]
        if buf is None or buf.numel() < nbytes:
            buf = torch.empty(nbytes, dtype=torch.uint8, pin_memory=self.pin)
            self._buffers[slot] = buf
        return buf


def fill(out: np.ndarray, images: Sequence[np.ndarray], size: tuple[int, int]) -> None:
    """Write ``images`` resized to ``size`` and edge-padded into ``out`` ``(rows, H, W, 3)``;
    zero the rows after them."""
    h, w = size
    for j, im in enumerate(images):
        out[j, :h, :w] = resize_image(im, size)
        out[j, :h, w:] = out[j, :h, w - 1: w]  # right edge, then bottom edge (corner included)
        out[j, h:] = out[j, h - 1: h]
    out[len(images):] = 0
