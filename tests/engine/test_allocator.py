"""engine.nn.allocator: freed tensor memory is reused instead of zero-filled again by the kernel."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Allocates and frees a 64 MiB tensor 20 times in a thread, twice (as the app's engine thread does);
# prints whether the setting took effect and the minor page faults of the loop per MiB.
SCRIPT = textwrap.dedent("""
    import resource, threading, torch
    from engine.nn.allocator import keep_freed_memory
    took = keep_freed_memory()
    def loop():
        for _ in range(20):
            torch.ones(16 << 20).sum()
    def in_thread():
        t = threading.Thread(target=loop)
        t.start()
        t.join()
    in_thread()  # warm-up: the heap grows once, a thread's first start maps its stacks
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    in_thread()
    print(took, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / (20 * 64))
""")


def _run(malloc: str | None) -> tuple[bool, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    env.pop("DISTILLFSS_MALLOC", None)
    if malloc is not None:
        env["DISTILLFSS_MALLOC"] = malloc
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout.split()
    return out[0] == "True", float(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc setting")
def test_freed_memory_is_reused_without_page_faults():
    took, faults = _run(None)
    sys_took, sys_faults = _run("system")
    assert took and not sys_took
    # A 4 KiB page per fault: glibc's default maps every 64 MiB block afresh (~256 per MiB).
    assert sys_faults > 100
    assert faults < 5


def test_idempotent_and_false_when_turned_off(monkeypatch):
    from engine.nn import allocator

    monkeypatch.setattr(allocator, "_done", None)
    monkeypatch.setenv("DISTILLFSS_MALLOC", "system")
    assert allocator.keep_freed_memory() is False
    monkeypatch.delenv("DISTILLFSS_MALLOC")
    assert allocator.keep_freed_memory() is False  # decided once per process
