"""A lock file that tells a second instance to open a project read-only.

The lock holds the owner's pid and host.  A lock whose owner process has died
(same host) is stale and taken over; a lock from another host is respected.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path


def acquire_lock(lock: Path) -> bool:
    """Create ``lock`` atomically; return False when a live owner holds it."""
    info = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _lock_is_live(lock):
                return False
            lock.unlink(missing_ok=True)  # stale: its owner died
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(info, f)
        return True
    return False


def _lock_is_live(lock: Path) -> bool:
    """True when the lock's owner process still runs (or cannot be checked)."""
    try:
        info = json.loads(lock.read_text())
        pid, host = int(info["pid"]), str(info["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    # Another machine (network share) or this very process (a second window): alive.
    return host != socket.gethostname() or pid == os.getpid() or _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
