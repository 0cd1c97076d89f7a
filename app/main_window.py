"""The main window: builds the canvas, docks, actions and bars and wires the controllers.

The state lives in :class:`app.session.Session`; the controllers take the session and the
widgets they drive: :mod:`app.projects` (open, close), :mod:`app.navigation` (the shown
image), :mod:`app.painting` (tool, brush, class), :mod:`app.review`,
:mod:`app.model_controller` (with :mod:`app.auto_label`), :mod:`app.live`,
:mod:`app.class_deletion` and
:mod:`app.save_guard`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QByteArray, QPoint, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QWidget
from superqt.utils import qthrottled

from app.actions import build_actions
from app.canvas import MaskCanvas
from app.class_deletion import ClassDeletion
from app.classes_panel import ClassesPanel
from app.contrast import ContrastPanel
from app.current import CurrentImage
from app.image_list import ImageListPanel
from app.job_panel import JobPanel
from app.jobs import default_workers
from app.live import LiveController
from app.model_controller import ModelController, ModelViews
from app.navigation import Navigation, NavigationViews
from app.painting import PaintControls, PaintViews
from app.projects import ProjectController, ProjectJobs, ProjectViews
from app.review import Review, ask_yes_no
from app.save_guard import SaveGuard
from app.saver import Saver
from app.session import Session
from app.settings import AppSettings, load_settings, save_settings
from app.thumb_loader import ThumbnailLoader
from app.toolbar import build_status_bar, build_toolbar, initial_size
from engine.io.project import Project

MIN_SCREEN_SHARE = 0.85  # the first window covers this share of the available screen


class MainWindow(QMainWindow):
    """DistillFSS Studio."""

    def __init__(self, settings: AppSettings | None = None,
                 ask: Callable[[str, str], bool] | None = None) -> None:
        """``ask``: the Yes/No questions (:attr:`Session.ask`); a dialog when None."""
        super().__init__()
        self.setWindowTitle("DistillFSS Studio")
        self.setObjectName("MainWindow")
        self.settings = settings or load_settings()
        self.session = Session(self.settings, Saver(), defaults=default_workers,
                               ask=ask or partial(ask_yes_no, self))
        self._build_widgets()
        self._build_controllers()
        self._connect()
        self.painting.apply_settings()
        self._restore_layout()

    # -- the session's state (for tests and scripts) ------------------------------------
    @property
    def project(self) -> Project | None:
        """The open project (:attr:`Session.project`)."""
        return self.session.project

    @property
    def current(self) -> CurrentImage | None:
        """The shown image (:attr:`Session.current`)."""
        return self.session.current

    @property
    def saver(self) -> Saver:
        """The label writer (:attr:`Session.saver`)."""
        return self.session.saver

    # -- construction ----------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.canvas = MaskCanvas()
        self.setCentralWidget(self.canvas)
        self.image_panel = ImageListPanel()
        self.classes_panel = ClassesPanel()
        self.job_panel = JobPanel()
        self.contrast = ContrastPanel()
        areas = Qt.DockWidgetArea
        for title, widget, area in (("Images", self.image_panel, areas.LeftDockWidgetArea),
                                    ("Classes", self.classes_panel, areas.RightDockWidgetArea),
                                    ("Model", self.job_panel, areas.RightDockWidgetArea),
                                    ("Display", self.contrast, areas.RightDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{title.lower()}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
        self.actions_, self.recent_menu = build_actions(self)
        self.brush_size, self.opacity = build_toolbar(self, self.actions_)
        (self.position_label, self.state_label, self.model_status,
         self.device_label) = build_status_bar(self)
        self.thumbs = ThumbnailLoader(self.image_panel.model, self)

    def _build_controllers(self) -> None:
        s, a, c = self.session, self.actions_, self.canvas
        self.review = Review(s, c, self)
        self.model_controller = ModelController(
            s, ModelViews(self.job_panel, a, c, self.image_panel, self.model_status,
                          self.device_label), self.review, self)
        self.live = LiveController(s, c, self.model_controller, self)
        self.deletion = ClassDeletion(s, self.classes_panel, self.job_panel, self)
        self.save_guard = SaveGuard(s, self)
        self.navigation = Navigation(s, NavigationViews(c, self.image_panel, self.contrast, a,
                                                        self.job_panel, self.state_label),
                                     self.review, self)
        self.painting = PaintControls(s, PaintViews(c, a, self.classes_panel, self.brush_size,
                                                    self.opacity, self.position_label), self)
        self.projects = ProjectController(
            s, ProjectViews(c, self.classes_panel, self.image_panel, self.thumbs,
                            self.recent_menu), self.navigation,
            ProjectJobs(self.model_controller, self.live, self.deletion, self.save_guard),
            self)

    def _connect(self) -> None:
        a, c, events = self.actions_, self.canvas, self.session.events
        events.status.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        events.project_changed.connect(self._on_project_changed)
        a.open_folder.triggered.connect(lambda: self.projects.open_folder(None))
        a.open_demo.triggered.connect(self.projects.open_demo)
        a.export_labels.triggered.connect(self.show_export)
        a.import_labels.triggered.connect(self.show_import)
        a.quit.triggered.connect(self.close)
        a.undo.triggered.connect(lambda: self.review.history(undo=True))
        a.redo.triggered.connect(lambda: self.review.history(undo=False))
        a.unreview.triggered.connect(self.review.unreview_current)
        a.review_next.triggered.connect(self.review.review_next)
        a.accept.triggered.connect(self.review.accept)
        a.toggle_support.triggered.connect(self.review.toggle_support)
        a.fit.triggered.connect(c.fit)
        a.actual.triggered.connect(c.actual_size)
        a.zoom_in.triggered.connect(lambda: c.zoom_by(1.25))
        a.zoom_out.triggered.connect(lambda: c.zoom_by(0.8))
        a.show_predictions.toggled.connect(c.show_predictions)
        c.predictions_shown.connect(a.show_predictions.setChecked)  # e.g. painting switches back
        a.live.toggled.connect(self.live.set_enabled)
        self.live.status.connect(lambda text: self.statusBar().showMessage(text, 6000))
        # Re-mapping a large image takes tens of ms: follow a dragged slider at most 25x/s.
        self._set_contrast = qthrottled(c.set_contrast, timeout=40, parent=self)
        self.contrast.limits_changed.connect(self._set_contrast)
        c.smart.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        c.customContextMenuRequested.connect(lambda pos: self.review.show_menu(
            self.current.name if self.current else None, c.mapToGlobal(pos)))
        self.image_panel.menu_requested.connect(self.review.show_menu)
        for i in range(1, 10):
            shortcut = QShortcut(QKeySequence(str(i)), self)
            shortcut.activated.connect(lambda i=i: self.painting.pick_class(i))

    def _on_project_changed(self, project: Project | None) -> None:
        if project is not None:
            suffix = " (read-only)" if project.read_only else ""
            self.setWindowTitle(f"{project.image_folder.name}{suffix} – DistillFSS Studio")

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

    # -- window events ----------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # Shortcuts need an active window and keys the canvas: without a window manager
        # (Xvfb, some remote desktops) nothing activates a new window on its own.
        QTimer.singleShot(0, self._take_focus)

    def _take_focus(self) -> None:
        if self.isVisible() and QApplication.activeModalWidget() is None:
            self.activateWindow()
            self.canvas.setFocus()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.save_guard.may_discard_unsaved():
            event.ignore()
            return
        self.projects.close_project()
        self.session.report(self.saver.close())
        save_settings(self.settings)
        qs = QSettings("DistillFSS", "DistillFSS Studio")
        qs.setValue("geometry", self.saveGeometry())
        qs.setValue("window_state", self.saveState())
        super().closeEvent(event)

    # -- dialogs ------------------------------------------------------------------------
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
        self.import_dialog = ImportDialog(self.session, self.model_controller.stop_all,
                                          self.projects.reload_view, self)
        self.import_dialog.show()

    def central(self) -> QWidget:
        """The canvas (for tests and screenshots)."""
        return self.canvas
