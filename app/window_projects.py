"""The main window's project handling: open, show, reload and close a folder's project.

A mixin of :class:`app.main_window.MainWindow` (kept apart so the window stays small).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.settings import save_settings
from engine.io.project import Project, ProjectDirNotWritable, ProjectError

if TYPE_CHECKING:
    from app.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object


class ProjectsMixin(_Base):
    """Opening and closing projects (uses the window's panels, loaders and saver)."""

    def open_folder(self, folder: str | Path | None) -> bool:
        """Open the project of ``folder`` (asks for a folder when None); False on failure."""
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Open a folder of images")
            if not folder:
                return False
        if (self.project is not None
                and Path(folder).resolve() == self.project.image_folder.resolve()):
            return True  # already open (opening it again would find our own lock: read-only)
        if not self.may_discard_unsaved():
            return False
        project = self._open_project(Path(folder))
        if project is None:
            return False
        self.close_project()
        self.project = project
        self.settings.add_recent(str(project.image_folder))
        save_settings(self.settings)
        self._refresh_recent()
        self._show_project()
        return True

    def _open_project(self, folder: Path) -> Project | None:
        chosen = self.settings.project_dirs.get(str(folder.resolve()))
        try:
            try:
                return Project.open(folder, chosen)
            except ProjectDirNotWritable:
                target = QFileDialog.getExistingDirectory(
                    self, "The image folder is read-only: choose where to keep the labels")
                if not target:
                    return Project.open(folder, read_only=True)
                # the choice of place is remembered only once a project opens there
                project = Project.open(folder, target)
                self.settings.project_dirs[str(folder.resolve())] = target
                return project
        except (OSError, ProjectError) as exc:  # also when the chosen place fails
            QMessageBox.warning(self, "Cannot open folder", str(exc))
            return None

    def _show_project(self) -> None:
        project = self.project
        if project is None:
            return
        suffix = " (read-only)" if project.read_only else ""
        self.setWindowTitle(f"{project.image_folder.name}{suffix} – DistillFSS Studio")
        for warning in project.warnings:
            QMessageBox.warning(self, "Project", warning)
        self.reload_project_view(show=False)  # the model: session.project_changed
        if not project.images:
            self.current = None
            self.canvas.set_document(None)
            self.canvas.set_image(None, f"No images in {project.image_folder}\n"
                                        "(PNG, JPEG, TIFF, BMP and WebP files are listed).")
            return
        names = {p.name for p in project.images}
        last = self.settings.last_images.get(str(project.image_folder))
        self.image_panel.select(last if last in names else project.images[0].name)
        self.canvas.setFocus()  # shortcuts and the space-bar pan work at once

    def reload_project_view(self, show: bool = True) -> None:
        """Classes, image states, counts and thumbnails from the project (after an import);
        with ``show``, the current image is read again."""
        project = self.project
        if project is None:
            return
        self.classes_panel.set_project(project)
        self._on_classes_changed()
        self.image_panel.model.reset([(p.name, project.state(p.name)) for p in project.images])
        self.image_panel.set_counts(project.counts())
        self.thumbs.load(project)
        if show and self.current is not None:
            name, self.current = self.current.name, None
            self.show_image(name)

    def close_project(self) -> None:
        """Save everything, stop jobs, release the project."""
        self.loader.stop()
        self.thumbs.stop()
        self.canvas.smart.shutdown()  # GrabCut / superpixels of this project's images
        self.live.forget()
        self.deletion.stop()
        self.model_controller.stop_all()
        self.session.flush()
        self.saver.unsaved.clear()  # they belong to this project (the user was asked)
        if self.project is not None:
            try:
                self.project.close()  # releases the lock even when saving fails
            except OSError as exc:
                QMessageBox.warning(self, "Project", f"Could not save the project file: {exc}\n"
                                    "The label images are saved; image states may be stale.")
        self.project, self.current = None, None

    def open_demo(self) -> None:
        """Copy the bundled demo images to a writable place and open them."""
        from app.demo import copy_demo

        try:
            folder = copy_demo()
        except OSError as exc:
            QMessageBox.warning(self, "Demo images", f"Could not copy the demo images: {exc}")
            return
        self.open_folder(folder)

    def _refresh_recent(self) -> None:
        menu = self.recent_menu  # type: ignore[attr-defined]
        menu.clear()
        for folder in self.settings.recent_folders:
            menu.addAction(folder, lambda f=folder: self.open_folder(f))
        menu.setEnabled(bool(self.settings.recent_folders))
