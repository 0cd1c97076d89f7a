"""Opening, reloading and closing a folder's project, and the pause a class deletion needs.

The controller takes the session, the widgets it fills from the project and the
controllers whose jobs it stops; the window passes itself only as the parent of dialogs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.settings import save_settings
from engine.io.project import Project, ProjectDirNotWritable, ProjectError

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMenu, QWidget

    from app.canvas import MaskCanvas
    from app.class_deletion import ClassDeletion
    from app.classes_panel import ClassesPanel
    from app.image_list import ImageListPanel
    from app.live import LiveController
    from app.model_controller import ModelController
    from app.navigation import Navigation
    from app.save_guard import SaveGuard
    from app.session import Session
    from app.thumb_loader import ThumbnailLoader


@dataclass(frozen=True)
class ProjectViews:
    """What shows a project: the canvas (colours, smart tools), the classes panel, the image
    list with its thumbnails, and File > Open recent."""

    canvas: MaskCanvas
    classes_panel: ClassesPanel
    image_panel: ImageListPanel
    thumbs: ThumbnailLoader
    recent_menu: QMenu


@dataclass(frozen=True)
class ProjectJobs:
    """The controllers whose work belongs to the open project (stopped when it closes)."""

    models: ModelController
    live: LiveController
    deletion: ClassDeletion
    save_guard: SaveGuard


class ProjectController(QObject):
    """Opens and closes the session's project and fills the views from it."""

    def __init__(self, session: Session, views: ProjectViews, navigation: Navigation,
                 jobs: ProjectJobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.views = views
        self.navigation = navigation
        self.jobs = jobs
        self._parent = parent  # of the dialogs
        views.classes_panel.classes_changed.connect(session.classes_changed)
        session.events.classes_changed.connect(self._show_class_colors)
        jobs.deletion.about_to_start.connect(self._on_class_deleting)
        views.classes_panel.class_deleted.connect(self._on_class_deleted)
        jobs.deletion.finished.connect(self._on_deletion_finished)
        self.refresh_recent()

    # -- open -------------------------------------------------------------------------------
    def open_folder(self, folder: str | Path | None) -> bool:
        """Open the project of ``folder`` (asks for a folder when None); False on failure."""
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self._parent, "Open a folder of images")
            if not folder:
                return False
        current = self.session.project
        if current is not None and Path(folder).resolve() == current.image_folder.resolve():
            return True  # already open (opening it again would find our own lock: read-only)
        if not self.jobs.save_guard.may_discard_unsaved():
            return False
        project = self._open_project(Path(folder))
        if project is None:
            return False
        self.close_project()
        self.session.project = project
        settings = self.session.settings
        settings.add_recent(str(project.image_folder))
        save_settings(settings)
        self.refresh_recent()
        self._show_project(project)
        return True

    def open_demo(self) -> None:
        """Copy the bundled demo images to a writable place and open them."""
        from app.demo import copy_demo

        try:
            folder = copy_demo()
        except OSError as exc:
            QMessageBox.warning(self._parent, "Demo images",
                                f"Could not copy the demo images: {exc}")
            return
        self.open_folder(folder)

    def _open_project(self, folder: Path) -> Project | None:
        settings = self.session.settings
        chosen = settings.project_dirs.get(str(folder.resolve()))
        try:
            try:
                return Project.open(folder, chosen)
            except ProjectDirNotWritable:
                target = QFileDialog.getExistingDirectory(
                    self._parent,
                    "The image folder is read-only: choose where to keep the labels")
                if not target:
                    return Project.open(folder, read_only=True)
                # the choice of place is remembered only once a project opens there
                project = Project.open(folder, target)
                settings.project_dirs[str(folder.resolve())] = target
                return project
        except (OSError, ProjectError) as exc:  # also when the chosen place fails
            QMessageBox.warning(self._parent, "Cannot open folder", str(exc))
            return None

    def _show_project(self, project: Project) -> None:
        for warning in project.warnings:
            QMessageBox.warning(self._parent, "Project", warning)
        self.reload_view(show=False)  # the model: session.project_changed
        if not project.images:
            self.navigation.put_away(f"No images in {project.image_folder}\n"
                                     "(PNG, JPEG, TIFF, BMP and WebP files are listed).")
            return
        names = {p.name for p in project.images}
        last = self.session.settings.last_images.get(str(project.image_folder))
        self.views.image_panel.select(last if last in names else project.images[0].name)
        self.views.canvas.setFocus()  # shortcuts and the space-bar pan work at once

    def reload_view(self, show: bool = True) -> None:
        """Classes, image states, counts and thumbnails from the project (after an import);
        with ``show``, the current image is read again."""
        project, v = self.session.project, self.views
        if project is None:
            return
        v.classes_panel.set_project(project)
        self._show_class_colors()
        v.image_panel.model.reset([(p.name, project.state(p.name)) for p in project.images])
        v.image_panel.set_counts(project.counts())
        v.thumbs.load(project)
        if show:
            self.navigation.reload()

    def refresh_recent(self) -> None:
        """File > Open recent: the recent folders."""
        menu, recent = self.views.recent_menu, self.session.settings.recent_folders
        menu.clear()
        for folder in recent:
            menu.addAction(folder, lambda f=folder: self.open_folder(f))
        menu.setEnabled(bool(recent))

    def _show_class_colors(self) -> None:
        project = self.session.project
        if project is None:
            return
        colors = {c.id: c.color for c in project.classes}
        self.views.canvas.set_colors(colors)
        self.views.image_panel.model.refresh_colors(colors)

    # -- close ------------------------------------------------------------------------------
    def stop_work(self) -> None:
        """Stop reading images and thumbnails and the model's jobs; save (before the masks
        are rewritten, or the project closes)."""
        self.navigation.stop()
        self.views.thumbs.stop()
        self.jobs.live.forget()  # its round would save a model of the old project / classes
        self.jobs.models.stop_all()
        self.session.flush()

    def close_project(self) -> None:
        """Save everything, stop jobs, release the project."""
        self.views.canvas.smart.shutdown()  # GrabCut / superpixels of this project's images
        self.jobs.deletion.stop()
        self.stop_work()
        self.session.saver.unsaved.clear()  # they belong to this project (the user was asked)
        project = self.session.project
        if project is not None:
            try:
                project.close()  # releases the lock even when saving fails
            except OSError as exc:
                QMessageBox.warning(self._parent, "Project",
                                    f"Could not save the project file: {exc}\nThe label "
                                    "images are saved; image states may be stale.")
        self.session.project = None

    # -- deleting a class ---------------------------------------------------------------------
    def _on_class_deleting(self, _class_id: int) -> None:
        self.stop_work()  # a job would write old class ids after the remap
        # Nothing can be painted while the masks are rewritten; the image comes back after.
        self.navigation.hold("Deleting the class: rewriting the masks …")

    def _on_class_deleted(self, _class_id: int) -> None:
        project = self.session.project
        if project is not None and project.active_model is not None:
            # The model predicts the old class ids: using it would label with shifted ids.
            self.session.set_model(None, {})
            QMessageBox.information(self._parent, "Delete class", "The model was learned "
                                    "with the old classes and is no longer used: press Learn "
                                    "class to learn the remaining ones.")

    def _on_deletion_finished(self) -> None:
        """Show the remapped masks of the image that was shown (or asked for meanwhile)."""
        self.navigation.release()
        if self.session.project is not None:
            self.views.thumbs.load(self.session.project)
