"""The main window: composes canvas, image list, classes and model panels; opens projects."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QPoint, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QMessageBox, QWidget
from superqt.utils import qthrottled

from app.actions import TOOL_ACTIONS, build_actions
from app.canvas import MaskCanvas, Tool
from app.class_deletion import ClassDeletion
from app.classes_panel import ClassesPanel
from app.contrast import ContrastPanel
from app.current import CurrentImage
from app.image_list import ImageListPanel
from app.image_loader import ImageLoader
from app.job_panel import JobPanel
from app.jobs import default_workers
from app.live import LiveController
from app.model_controller import ModelController, ModelViews
from app.review import STATE_TEXT, Review
from app.save_guard import SaveGuard
from app.saver import Saver
from app.session import Session
from app.settings import AppSettings, load_settings, save_settings
from app.thumb_loader import ThumbnailLoader
from app.toolbar import build_status_bar, build_toolbar, initial_size
from app.window_projects import ProjectsMixin
from engine.io.labels import NOT_PAINTED
from engine.io.project import ImageState, Project

MIN_SCREEN_SHARE = 0.85  # the first window covers this share of the available screen


class MainWindow(ProjectsMixin, QMainWindow):
    """DistillFSS Studio."""

    def __init__(self, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("DistillFSS Studio")
        self.setObjectName("MainWindow")
        self.settings = settings or load_settings()
        self.session = Session(self.settings, Saver(), defaults=default_workers)
        self.canvas = MaskCanvas()
        self.setCentralWidget(self.canvas)
        self.image_panel = ImageListPanel()
        self.classes_panel = ClassesPanel()
        self.job_panel = JobPanel()
        self.contrast = ContrastPanel()
        self._add_docks()
        self.actions_ = build_actions(self)
        self.brush_size, self.opacity = build_toolbar(self)
        self.position_label, self.model_status, self.device_label = build_status_bar(self)
        self.thumbs = ThumbnailLoader(self.image_panel.model, self)
        self.loader = ImageLoader(self)
        self.loader.loaded.connect(self._install)
        self.review = Review(self.session, self.canvas, self)
        self.model_controller = ModelController(
            self.session, ModelViews(self.job_panel, self.actions_, self.canvas,
                                     self.image_panel, self.model_status, self.device_label),
            self.review, self)
        self.live = LiveController(self.session, self.canvas, self.model_controller, self)
        self.deletion = ClassDeletion(self.session, self.classes_panel, self.job_panel, self)
        self._connect_session()
        self._connect()
        self._connect_panels()
        self._after_deletion: str | None = None  # the image to show once a class is deleted
        self.save_guard = SaveGuard(self.session, self)
        self._apply_settings()
        self._restore_layout()
        self._refresh_recent()

    # -- the session's state ---------------------------------------------------------
    @property
    def project(self) -> Project | None:
        """The open project (:attr:`Session.project`)."""
        return self.session.project

    @project.setter
    def project(self, project: Project | None) -> None:
        self.session.project = project

    @property
    def current(self) -> CurrentImage | None:
        """The shown image (:attr:`Session.current`)."""
        return self.session.current

    @current.setter
    def current(self, current: CurrentImage | None) -> None:
        self.session.current = current

    @property
    def saver(self) -> Saver:
        """The label writer (:attr:`Session.saver`)."""
        return self.session.saver

    # -- construction ----------------------------------------------------------------
    def _connect_session(self) -> None:
        events = self.session.events
        events.status.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        events.image_state_changed.connect(self._on_image_state_changed)
        events.labels_changed.connect(lambda _name: self.refresh_thumbnail_overlay())
        events.image_requested.connect(self.show_image)
    def _add_docks(self) -> None:
        areas = Qt.DockWidgetArea
        for title, widget, area in (("Images", self.image_panel, areas.LeftDockWidgetArea),
                                    ("Classes", self.classes_panel, areas.RightDockWidgetArea),
                                    ("Model", self.job_panel, areas.RightDockWidgetArea),
                                    ("Display", self.contrast, areas.RightDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{title.lower()}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)

    def _connect(self) -> None:
        a, c = self.actions_, self.canvas
        a.open_folder.triggered.connect(lambda: self.open_folder(None))
        a.open_demo.triggered.connect(self.open_demo)
        a.export_labels.triggered.connect(self.show_export)
        a.import_labels.triggered.connect(self.show_import)
        a.quit.triggered.connect(self.close)
        a.undo.triggered.connect(lambda: self._history(undo=True))
        a.redo.triggered.connect(lambda: self._history(undo=False))
        a.unreview.triggered.connect(self.review.unreview_current)
        a.review_next.triggered.connect(self.review.review_next)
        a.accept.triggered.connect(self.review.accept)
        a.toggle_support.triggered.connect(self.review.toggle_support)
        for name, tool in TOOL_ACTIONS.items():
            getattr(a, name).triggered.connect(lambda _=False, t=tool: self.set_tool(t))
        a.bigger.triggered.connect(lambda: self.brush_size.setValue(
            max(self.brush_size.value() + 2, int(self.brush_size.value() * 1.25))))
        a.smaller.triggered.connect(lambda: self.brush_size.setValue(
            min(self.brush_size.value() - 2, int(self.brush_size.value() / 1.25))))
        a.fit.triggered.connect(c.fit)
        a.actual.triggered.connect(c.actual_size)
        a.zoom_in.triggered.connect(lambda: c.zoom_by(1.25))
        a.zoom_out.triggered.connect(lambda: c.zoom_by(0.8))
        a.show_predictions.toggled.connect(c.show_predictions)
        a.live.toggled.connect(self.live.set_enabled)
        self.live.status.connect(lambda text: self.statusBar().showMessage(text, 6000))
        c.predictions_shown.connect(a.show_predictions.setChecked)  # e.g. painting switches back
        a.low_confidence.toggled.connect(self._on_low_confidence_toggled)
        a.flip_average.toggled.connect(self._on_flip_average_toggled)
        a.next_image.triggered.connect(lambda: self.step_image(1))
        a.previous_image.triggered.connect(lambda: self.step_image(-1))

    def _connect_panels(self) -> None:
        c = self.canvas
        self.brush_size.valueChanged.connect(self._on_brush_size_changed)
        self.opacity.valueChanged.connect(self._on_opacity_changed)
        # Re-mapping a large image takes tens of ms: follow a dragged slider at most 25x/s.
        self._set_contrast = qthrottled(c.set_contrast, timeout=40, parent=self)
        self.contrast.limits_changed.connect(self._set_contrast)
        c.stroke_finished.connect(self._on_stroke_finished)
        c.cursor_moved.connect(self._on_cursor_moved)
        c.smart.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        c.customContextMenuRequested.connect(lambda pos: self.review.show_menu(
            self.current.name if self.current else None, c.mapToGlobal(pos)))
        self.image_panel.image_selected.connect(self.show_image)
        self.image_panel.menu_requested.connect(self.review.show_menu)
        self.classes_panel.active_class_changed.connect(self._on_active_class_changed)
        self.classes_panel.classes_changed.connect(self._on_classes_changed)
        self.deletion.about_to_start.connect(self._on_class_deleting)
        self.classes_panel.class_deleted.connect(self._on_class_deleted)
        self.deletion.finished.connect(self._on_deletion_finished)
        self.classes_panel.class_picked.connect(self._on_class_picked)
        self.classes_panel.background_button.clicked.connect(self.actions_.background.trigger)
        for i in range(1, 10):
            shortcut = QShortcut(QKeySequence(str(i)), self)
            shortcut.activated.connect(lambda i=i: self._on_class_picked(i))

    def _apply_settings(self) -> None:
        s = self.settings
        self.opacity.setValue(round(s.overlay_opacity * 100))
        self._on_opacity_changed(self.opacity.value())
        tool = Tool(s.tool) if s.tool in Tool._value2member_map_ else Tool.BRUSH
        getattr(self.actions_, tool.value).setChecked(True)
        self.set_tool(tool)
        self.actions_.low_confidence.setChecked(s.show_low_confidence)
        self.actions_.low_confidence.setToolTip(
            f"Yellow: pixels where the model's confidence is below "
            f"{s.low_confidence_threshold * 100:.0f} % (C). The model's own estimate: pixels "
            "it is sure of but gets wrong are not marked.")
        self.actions_.flip_average.setChecked(s.flip_average)

    def _restore_layout(self) -> None:
        qs = QSettings("DistillFSS", "DistillFSS Studio")
        geometry, state = qs.value("geometry"), qs.value("window_state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        screen = self.screen().availableGeometry()
        if not isinstance(geometry, QByteArray) or not screen.contains(self.geometry()):
            size = initial_size(screen.size(), MIN_SCREEN_SHARE)  # first start, or off screen
            self.resize(size)
            self.move(screen.center() - QPoint(size.width() // 2, size.height() // 2))
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # Shortcuts need an active window and keys the canvas: without a window manager
        # (Xvfb, some remote desktops) nothing activates a new window on its own.
        QTimer.singleShot(0, self._take_focus)

    def _take_focus(self) -> None:
        if self.isVisible() and QApplication.activeModalWidget() is None:
            self.activateWindow()
            self.canvas.setFocus()

    # -- images ------------------------------------------------------------------------------
    def show_image(self, name: str) -> None:
        """Save the current image, then show ``name`` with its labels.

        A large image is read on a worker thread (``app.image_loader``): meanwhile the
        canvas says so and nothing can be painted; choosing another image drops it."""
        if self.deletion.running:  # the masks are being rewritten: shown when done
            self._after_deletion = name
            return
        if self.project is None or name in (self.loader.pending,
                                             self.current.name if self.current else None):
            return
        self.save_current()
        if self.loader.load(self.project, name, self.saver.unsaved):
            self.current = None
            self.canvas.set_document(None)
            self.canvas.set_prediction(None)
            self.canvas.set_image(None, f"Loading {name} ...")
            self.image_panel.select(name)
            self._update_support_action()

    def _install(self, cur: CurrentImage) -> None:
        """Make ``cur`` (``loader.loaded``) the edited image: canvas, list, live prediction."""
        self.current = cur
        self.canvas.set_document(cur.document)
        self.canvas.set_image(cur.rgb, f"Cannot show {cur.name}\n\n{cur.error}")
        self.canvas.set_prediction(cur.prediction)
        self.canvas.set_confidence(None, self.settings.low_confidence_threshold)
        self.contrast.image_shown(cur.rgb)
        self.canvas.fit()
        self.image_panel.select(cur.name)
        self.model_controller.image_shown(cur)
        self._update_support_action()
        if self.project is not None:  # reopening the folder comes back here
            self.settings.last_images[str(self.project.image_folder)] = cur.name

    def step_image(self, delta: int) -> None:
        """Go to the next (1) or previous (-1) image of the filtered list."""
        name = self.image_panel.step(delta)
        if name is not None:
            self.show_image(name)

    def save_current(self) -> None:
        """Autosave: queue the current labels when they changed."""
        self.session.save_current()

    def state_changed(self, name: str) -> None:
        """Refresh the badge of ``name`` and the counts (:meth:`Session.state_changed`)."""
        self.session.state_changed(name)

    def _on_image_state_changed(self, name: str) -> None:
        if self.project is None:
            return
        self.image_panel.model.set_state(name, self.project.state(name))
        self.image_panel.set_counts(self.project.counts())
        if self.current is not None and self.current.name == name:
            self._update_support_action()

    def _update_support_action(self) -> None:
        state = (self.project.state(self.current.name)
                 if self.project is not None and self.current is not None else None)
        self.actions_.toggle_support.setText(
            "Remove from examples" if state == ImageState.SUPPORT else "Use as example")
        self.job_panel.support_button.setText(self.actions_.toggle_support.text())
        self.actions_.unreview.setEnabled(
            self.current is not None and self.review.can_unreview(self.current.name))
        self.state_label.setText(STATE_TEXT[state] if state is not None else "")

    # -- slots --------------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        """Choose the tool the left mouse button uses; the size box shows its size."""
        self.canvas.tool = tool
        self.settings.tool = tool.value
        self.classes_panel.background_button.setChecked(tool == Tool.BACKGROUND)
        eraser = tool == Tool.ERASER
        size = self.settings.eraser_size if eraser else self.settings.brush_size
        self.brush_size.setToolTip(f"{'Eraser' if eraser else 'Brush'} diameter in image "
                                   "pixels ([ and ])")
        self.brush_size.setValue(size)
        self._on_brush_size_changed(self.brush_size.value())

    def _history(self, undo: bool) -> None:
        if self.review.history(undo):
            self.refresh_thumbnail_overlay()

    def _on_stroke_finished(self) -> None:
        self.review.stroke_finished()
        self.refresh_thumbnail_overlay()

    def refresh_thumbnail_overlay(self) -> None:
        """Tint the current image's thumbnail with its labels."""
        if self.current is not None and self.project is not None:
            labels = self.current.document.labels if self.current.document else None
            shape = self.image_panel.model.thumb_shape(self.current.name)
            if labels is not None and shape is not None:
                from app.thumbs import shrink_labels

                self.image_panel.model.set_overlay(self.current.name, shrink_labels(labels, shape))

    def _on_cursor_moved(self, x: int, y: int, label: int) -> None:
        names = {c.id: c.name for c in (self.project.classes if self.project else [])}
        where = f"x {x}, y {y}" if label >= 0 else ""
        what = ("" if label < 0 else "not painted" if label == NOT_PAINTED
                else names.get(label, "background"))
        self.position_label.setText(f"{where}   {what}   zoom {self.canvas.zoom * 100:.0f} %")

    def _on_brush_size_changed(self, value: int) -> None:
        if value % 2 == 0:  # a disc centred on a pixel is an odd number of pixels wide
            self.brush_size.setValue(value + 1)
            return
        self.canvas.brush_radius = (value - 1) / 2  # the document paints 2 r + 1 pixels
        if self.canvas.tool == Tool.ERASER:
            self.settings.eraser_size = value
        else:
            self.settings.brush_size = value

    def _on_opacity_changed(self, value: int) -> None:
        self.canvas.set_opacity(value / 100.0)
        self.settings.overlay_opacity = value / 100.0

    def _on_low_confidence_toggled(self, on: bool) -> None:
        self.settings.show_low_confidence = on
        self.canvas.show_low_confidence(on)
        if on:
            self.actions_.show_predictions.setChecked(True)

    def _on_flip_average_toggled(self, on: bool) -> None:
        if on == self.settings.flip_average:
            return
        self.settings.flip_average = on
        if self.current is not None:  # the shown image's overlay with the new setting
            self.model_controller.image_shown(self.current)

    def _on_active_class_changed(self, class_id: int) -> None:
        self.canvas.active_label = class_id

    def _on_class_picked(self, class_id: int) -> None:
        """A class row clicked or its number key: paint that class (leaving the Background
        brush, which paints no class)."""
        self.classes_panel.select_class(class_id)
        if self.canvas.tool == Tool.BACKGROUND:
            self.actions_.brush.trigger()

    def _on_classes_changed(self) -> None:
        if self.project is None:
            return
        colors = {c.id: c.color for c in self.project.classes}
        self.canvas.set_colors(colors)
        self.image_panel.model.refresh_colors(colors)

    def _on_class_deleting(self, _class_id: int) -> None:
        self.thumbs.stop()  # reloaded after the remap
        self.live.forget()  # its round would save a model of the old class ids
        self.model_controller.stop_all()  # a job would write old class ids after the remap
        self.loader.stop()
        self.session.flush()
        # Nothing can be painted while the masks are rewritten; the image comes back after.
        self._after_deletion = self.current.name if self.current is not None else None
        self.current = None
        self.canvas.set_document(None)
        self.canvas.set_prediction(None)
        self.canvas.set_image(None, "Deleting the class: rewriting the masks …")
        self._update_support_action()

    def _on_class_deleted(self, _class_id: int) -> None:
        project = self.project
        if project is not None and project.active_model is not None:
            # The model predicts the old class ids: using it would label with shifted ids.
            self.session.set_model(None, {})
            QMessageBox.information(self, "Delete class", "The model was learned with the old "
                                    "classes and is no longer used: press Learn class to "
                                    "learn the remaining ones.")

    def _on_deletion_finished(self) -> None:
        """Show the remapped masks of the image that was shown (or asked for meanwhile)."""
        name, self._after_deletion = self._after_deletion, None
        if name is not None and self.project is not None:
            self.show_image(name)
        self._reload_thumbnails()

    def _reload_thumbnails(self) -> None:
        if self.project is not None:
            self.thumbs.load(self.project)

    def report(self, errors: list[str]) -> None:
        """Show write errors in the status bar."""
        self.session.report(errors)

    def may_discard_unsaved(self) -> bool:
        """Save; if some labels still cannot be written, ask before they are dropped."""
        return self.save_guard.may_discard_unsaved()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.may_discard_unsaved():
            event.ignore()
            return
        self.close_project()
        self.report(self.saver.close())
        save_settings(self.settings)
        qs = QSettings("DistillFSS", "DistillFSS Studio")
        qs.setValue("geometry", self.saveGeometry())
        qs.setValue("window_state", self.saveState())
        super().closeEvent(event)

    def show_export(self) -> None:
        """File > Export…: the export dialog (non-modal; the export runs in a worker)."""
        from app.export_dialog import ExportDialog

        if self.project is None:
            return
        self.export_dialog = ExportDialog(self.session, self)
        self.export_dialog.show()

    def show_import(self) -> None:
        """File > Import…: the import dialog (window-modal while it runs)."""
        from app.import_dialog import ImportDialog

        if self.project is None:
            return
        self.import_dialog = ImportDialog(self)
        self.import_dialog.show()

    def central(self) -> QWidget:
        """The canvas (for tests and screenshots)."""
        return self.canvas
