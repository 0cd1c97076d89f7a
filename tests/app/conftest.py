"""pytest-qt setup: offscreen Qt, isolated settings, no dangling workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--headed", action="store_true", help="show windows instead of offscreen")


def pytest_configure(config: pytest.Config) -> None:
    # Must happen before Qt creates the QApplication.
    if not config.getoption("--headed", default=False):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point both the JSON preferences and QSettings at a fresh temp folder."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("DISTILLFSS_CONFIG_DIR", str(folder))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
            # QSettings(org, app) uses the native format: an INI file on Linux too
            QSettings.setPath(fmt, scope, str(folder))
    yield folder


@pytest.fixture(autouse=True)
def _no_dangling_workers(qapp: object) -> Iterator[None]:
    """Fail a test that leaves a worker thread running."""
    yield
    from PySide6.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    if not pool.waitForDone(10_000):
        pytest.fail("a worker thread was still running after the test")
