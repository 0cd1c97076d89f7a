"""The look: Qt's Fusion style with a dark palette and a few accents."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = QColor(52, 120, 246)

STYLE_SHEET = """
QPushButton { padding: 5px 10px; border-radius: 4px; border: 1px solid #4a4d52;
              background: #3a3d42; }
QPushButton:hover { background: #44484e; }
QPushButton:disabled { color: #777; }
QPushButton#primary { background: #3478f6; border-color: #3478f6; color: white;
                      font-weight: bold; }
QPushButton#primary:hover { background: #4a88ff; }
QPushButton#primary:disabled { background: #2b4a80; color: #aab; }
QProgressBar { border: 1px solid #4a4d52; border-radius: 4px; text-align: center;
               background: #2a2c30; min-height: 18px; }
QProgressBar::chunk { background: #3478f6; border-radius: 3px; }
QDockWidget::title { padding: 4px; background: #2e3034; }
QListView { background: #26282b; }
QToolBar { spacing: 4px; }
"""


def apply_style(app: QApplication) -> None:
    """Fusion + dark palette + the style sheet."""
    app.setStyle("Fusion")
    pal = QPalette()
    colors = {
        QPalette.ColorRole.Window: QColor(45, 47, 51),
        QPalette.ColorRole.WindowText: QColor(225, 225, 225),
        QPalette.ColorRole.Base: QColor(36, 38, 41),
        QPalette.ColorRole.AlternateBase: QColor(45, 47, 51),
        QPalette.ColorRole.Text: QColor(225, 225, 225),
        QPalette.ColorRole.Button: QColor(58, 61, 66),
        QPalette.ColorRole.ButtonText: QColor(225, 225, 225),
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.ToolTipBase: QColor(58, 61, 66),
        QPalette.ColorRole.ToolTipText: QColor(225, 225, 225),
    }
    for role, color in colors.items():
        pal.setColor(role, color)
    app.setPalette(pal)
    app.setStyleSheet(STYLE_SHEET)
