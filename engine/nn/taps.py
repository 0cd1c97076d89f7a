"""Helpers that group backbone taps into attention groups, levels and skips."""

from __future__ import annotations

from dataclasses import dataclass

from .backbones import TapSpec

LEVELS = (8, 16, 32)


@dataclass(frozen=True)
class TapGroup:
    """Attention taps sharing one block: ``name``, tap ``indices``, ``stride``, ``channels``."""

    name: str
    indices: tuple[int, ...]
    stride: int
    channels: int


def attention_groups(taps: tuple[TapSpec, ...]) -> list[TapGroup]:
    """Groups of attention taps (stride >= 8), in tap order."""
    order: list[str] = []
    members: dict[str, list[int]] = {}
    for i, t in enumerate(taps):
        if t.group == "skip" or t.stride < 8:
            continue
        if t.group not in members:
            order.append(t.group)
            members[t.group] = []
        members[t.group].append(i)
    return [TapGroup(g, tuple(members[g]), taps[members[g][0]].stride,
                     taps[members[g][0]].channels) for g in order]


def level_taps(taps: tuple[TapSpec, ...]) -> dict[int, list[int]]:
    """Stride -> indices of its attention taps, for strides 8, 16, 32."""
    out = {s: [] for s in LEVELS}
    for g in attention_groups(taps):
        out[g.stride].extend(g.indices)
    for s in LEVELS:
        out[s].sort()
        if not out[s]:
            raise ValueError(f"backbone has no attention tap at stride {s}")
    return out


def skip_tap(taps: tuple[TapSpec, ...], stride: int) -> int | None:
    """Index of the last tap at ``stride`` (the query-only skip), or None if there is none."""
    found = [i for i, t in enumerate(taps) if t.stride == stride]
    return found[-1] if found else None
