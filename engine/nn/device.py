"""Choose the compute device: CUDA, then Apple MPS, then CPU, with an explicit override."""

from __future__ import annotations

import torch


def choose_device(pref: str | None = None) -> torch.device:
    """Return the device to run on.

    Parameters
    ----------
    pref : str or None
        ``None`` or ``"auto"`` picks CUDA, then MPS, then CPU.  Otherwise any torch device
        string (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).

    Raises
    ------
    ValueError
        If the requested device does not exist on this machine.
    """
    if pref is None or pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(pref)
    except RuntimeError:
        raise ValueError(f"unknown device {pref!r} (use auto, cpu, cuda or mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError("device 'mps' requested but Apple MPS is not available")
    return dev


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed-precision dtype for ``device`` (bf16/fp16 on CUDA), or None for full precision."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def describe(device: torch.device) -> str:
    """Human-readable device name, e.g. ``"CUDA (NVIDIA H100)"`` or ``"CPU"``."""
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "Apple MPS"
    return "CPU"
