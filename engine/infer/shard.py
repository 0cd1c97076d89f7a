"""Splitting a folder between processes or machines: ``distillfss label --shard I/N``.

Shard ``I`` of ``N`` labels the images whose file name hashes to ``I``: the first 8 bytes of
``sha256(file name)`` (the name's bytes as the file system stores them) modulo ``N``.  The
partition depends on nothing but the name, so it is the same on every machine and in every
run, and adding images to the folder moves none of the others to another shard.

Shards count from 0: ``--shard 0/4`` to ``--shard 3/4``, the numbers SLURM gives the tasks of
``--array=0-3``.  Each shard records its finished images in a done log of its own
(:func:`engine.io.outputs.done_file_name`), so shards writing into one output folder never
write the same file, and each resumes on its own.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_SHARD_TEXT = re.compile(r"^\s*(-?\d+)\s*/\s*(-?\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``.

    Raises
    ------
    ValueError
        When ``count < 1`` or ``index`` is not in ``0 .. count - 1``.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"shard count must be at least 1, got {self.count}")
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: the index must be 0 to "
                             f"{self.count - 1} (shards count from 0)")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Read ``"I/N"``, e.g. ``"0/4"``; raise ``ValueError`` with the expected form."""
        m = _SHARD_TEXT.match(str(text))
        if m is None:
            raise ValueError(f"--shard {text!r}: expected I/N, e.g. 0/4 (shard I of N, "
                             "counting from 0)")
        return cls(int(m.group(1)), int(m.group(2)))

    def holds(self, path: str | os.PathLike) -> bool:
        """Whether the image at ``path`` belongs to this shard."""
        return shard_of(path, self.count) == self.index

    def select(self, images: Sequence[str | os.PathLike]) -> list[Path]:
        """The images of ``images`` that belong to this shard, in their order."""
        return [Path(p) for p in images if self.holds(p)]

    @property
    def tag(self) -> str:
        """A file-name-safe label, e.g. ``shard-0-of-4``."""
        return f"shard-{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(path: str | os.PathLike, count: int) -> int:
    """Shard (0 .. ``count`` - 1) of the image at ``path``, from its file name alone."""
    if count < 1:
        raise ValueError(f"shard count must be at least 1, got {count}")
    name = os.fsencode(Path(path).name)
    return int.from_bytes(hashlib.sha256(name).digest()[:8], "big") % count
