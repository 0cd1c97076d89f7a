"""Work around a reference-count bug in PySide6 6.12.0 on Python < 3.12.

In PySide6 6.12.0 every ``emit()`` of a Python-defined ``Signal`` releases one reference
to ``True`` that it never took.  Python 3.12+ makes ``True`` immortal, so nothing
happens there; on 3.10/3.11 the count falls with every emit (ours, superqt's workers',
pytest-qt's) until the interpreter aborts with "bool_dealloc: deallocating True or
False" — after a few thousand signals, i.e. minutes into auto-labelling a folder.

:func:`protect_bools` measures the leak once with a throw-away signal and, only when it
is present, gives ``True`` and ``False`` a reference count so large that no run can
exhaust it.
"""

from __future__ import annotations

import sys

_done = False


def _emit_leaks_true() -> bool:
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(4):
        probe.ping.emit()
    return sys.getrefcount(True) < before


def protect_bools() -> None:
    """Apply the workaround once, when this PySide6 build needs it."""
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        _done = True
        return
    _done = True
    if not _emit_leaks_true():
        return
    import ctypes

    for obj in (True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
