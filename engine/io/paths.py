"""Printable file names (shared by the readers and the decoders)."""

from __future__ import annotations

import os


def display_name(path: str | os.PathLike) -> str:
    r"""Return ``path`` as printable text: undecodable bytes of the name appear as ``\xNN``."""
    text = os.fspath(path)
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # lone surrogates that did not come from a file name
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
