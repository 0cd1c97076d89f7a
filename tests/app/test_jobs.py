"""app.jobs.Job: a cancelled generator job runs its clean-up on the worker thread."""

from __future__ import annotations

import threading
import time

from pytestqt.qtbot import QtBot

from app.jobs import Job


def slow_job(log: dict) -> object:
    try:
        for i in range(1000):
            yield i
            time.sleep(0.01)
    finally:
        log["finally_thread"] = threading.current_thread()
        time.sleep(0.3)  # e.g. waiting for queued PNG writes: must not freeze the GUI


def test_cancelled_job_cleans_up_off_the_gui_thread(qtbot: QtBot) -> None:
    log: dict = {}
    job = Job(slow_job, log)
    with qtbot.waitSignal(job.yielded, timeout=5000):
        pass
    with qtbot.waitSignal(job.finished, timeout=5000) as finished:
        t = time.perf_counter()
        job.cancel()
        assert time.perf_counter() - t < 0.1  # cancel() returns at once
    assert finished.args == [True]
    assert log["finally_thread"] is not threading.main_thread()
