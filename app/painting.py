"""What the left mouse button paints: the tool, the brush and eraser sizes, the class, the
overlay's opacity and low-confidence marking, and the cursor's line in the status bar.

Binding goes both ways: a widget's signal sets the canvas and the saved preferences, and
:meth:`PaintControls.apply_settings` puts the preferences into the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.actions import TOOL_ACTIONS
from app.tools import Tool
from engine.io.labels import NOT_PAINTED

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel, QSlider, QSpinBox

    from app.actions import Actions
    from app.canvas import MaskCanvas
    from app.classes_panel import ClassesPanel
    from app.session import Session


@dataclass(frozen=True)
class PaintViews:
    """The canvas, the tool actions, the classes panel, the tool bar's brush size and
    opacity, and the status bar's cursor line."""

    canvas: MaskCanvas
    actions: Actions
    classes_panel: ClassesPanel
    brush_size: QSpinBox
    opacity: QSlider
    position_label: QLabel


class PaintControls(QObject):
    """Keeps the canvas's tool, brush, class and overlay in step with the widgets."""

    def __init__(self, session: Session, views: PaintViews, parent: QObject | None = None
                 ) -> None:
        super().__init__(parent)
        self.session = session
        self.views = views
        a, v = views.actions, views
        for name, tool in TOOL_ACTIONS.items():
            getattr(a, name).triggered.connect(lambda _=False, t=tool: self.set_tool(t))
        a.bigger.triggered.connect(lambda: v.brush_size.setValue(
            max(v.brush_size.value() + 2, int(v.brush_size.value() * 1.25))))
        a.smaller.triggered.connect(lambda: v.brush_size.setValue(
            min(v.brush_size.value() - 2, int(v.brush_size.value() / 1.25))))
        a.low_confidence.toggled.connect(self._on_low_confidence_toggled)
        v.brush_size.valueChanged.connect(self._on_brush_size_changed)
        v.opacity.valueChanged.connect(self._on_opacity_changed)
        v.canvas.cursor_moved.connect(self._on_cursor_moved)
        v.classes_panel.active_class_changed.connect(self._on_active_class_changed)
        v.classes_panel.class_picked.connect(self.pick_class)
        v.classes_panel.background_button.clicked.connect(a.background.trigger)

    def apply_settings(self) -> None:
        """Show the saved preferences: opacity, tool (and its size), low-confidence marking,
        flip averaging."""
        s, a = self.session.settings, self.views.actions
        self.views.opacity.setValue(round(s.overlay_opacity * 100))
        self._on_opacity_changed(self.views.opacity.value())
        tool = Tool(s.tool) if s.tool in {t.value for t in Tool} else Tool.BRUSH
        getattr(a, tool.value).setChecked(True)
        self.set_tool(tool)
        a.low_confidence.setChecked(s.show_low_confidence)
        a.low_confidence.setToolTip(
            f"Yellow: pixels where the model's confidence is below "
            f"{s.low_confidence_threshold * 100:.0f} % (C). The model's own estimate: pixels "
            "it is sure of but gets wrong are not marked.")
        a.flip_average.setChecked(s.flip_average)

    def set_tool(self, tool: Tool) -> None:
        """Choose the tool the left mouse button uses; the size box shows its size."""
        v, settings = self.views, self.session.settings
        v.canvas.tool = tool
        settings.tool = tool.value
        v.classes_panel.background_button.setChecked(tool == Tool.BACKGROUND)
        eraser = tool == Tool.ERASER
        v.brush_size.setToolTip(f"{'Eraser' if eraser else 'Brush'} diameter in image "
                                "pixels ([ and ])")
        v.brush_size.setValue(settings.eraser_size if eraser else settings.brush_size)
        self._on_brush_size_changed(v.brush_size.value())

    def pick_class(self, class_id: int) -> None:
        """A class row clicked or its number key: paint that class (leaving the Background
        brush, which paints no class)."""
        self.views.classes_panel.select_class(class_id)
        if self.views.canvas.tool == Tool.BACKGROUND:
            self.views.actions.brush.trigger()

    def _on_brush_size_changed(self, value: int) -> None:
        v = self.views
        if value % 2 == 0:  # a disc centred on a pixel is an odd number of pixels wide
            v.brush_size.setValue(value + 1)
            return
        v.canvas.brush_radius = (value - 1) / 2  # the document paints 2 r + 1 pixels
        if v.canvas.tool == Tool.ERASER:
            self.session.settings.eraser_size = value
        else:
            self.session.settings.brush_size = value

    def _on_opacity_changed(self, value: int) -> None:
        self.views.canvas.set_opacity(value / 100.0)
        self.session.settings.overlay_opacity = value / 100.0

    def _on_low_confidence_toggled(self, on: bool) -> None:
        self.session.settings.show_low_confidence = on
        self.views.canvas.show_low_confidence(on)
        if on:
            self.views.actions.show_predictions.setChecked(True)

    def _on_active_class_changed(self, class_id: int) -> None:
        self.views.canvas.active_label = class_id

    def _on_cursor_moved(self, x: int, y: int, label: int) -> None:
        project = self.session.project
        names = {c.id: c.name for c in (project.classes if project is not None else [])}
        where = f"x {x}, y {y}" if label >= 0 else ""
        what = ("" if label < 0 else "not painted" if label == NOT_PAINTED
                else names.get(label, "background"))
        zoom = self.views.canvas.zoom * 100
        self.views.position_label.setText(f"{where}   {what}   zoom {zoom:.0f} %")
