"""OpenCV and PySide6 load together: the headless cv2 wheel ships no Qt plugins of its own."""

from __future__ import annotations

import os
import subprocess
import sys


def test_cv2_then_qt_window_in_one_process(tmp_path) -> None:
    code = (
        "import re, cv2\n"
        "gui = re.search(r'GUI:\\s*(\\S+)', cv2.getBuildInformation()).group(1)\n"
        "assert gui == 'NONE', f'cv2 has its own GUI backend: {gui}'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from app.main_window import MainWindow\n"
        "w = MainWindow(); w.show(); app.processEvents(); w.close()\n"
        "print('ok', cv2.__version__)\n"
    )
    # never touch the real user settings: preferences and QSettings go to tmp_path
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DISTILLFSS_CONFIG_DIR=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path), HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")
    assert "Could not load the Qt platform plugin" not in proc.stderr
