"""Which image is edited: showing one (read on a worker thread when large), putting it into
the canvas and the list, next / previous, and what the shown image's state means.

The controller takes the session and the widgets it drives; the window only wires it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.image_loader import ImageLoader
from app.review import STATE_TEXT
from engine.io.project import ImageState

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel

    from app.actions import Actions
    from app.canvas import MaskCanvas
    from app.contrast import ContrastPanel
    from app.current import CurrentImage
    from app.image_list import ImageListPanel
    from app.job_panel import JobPanel
    from app.review import Review
    from app.session import Session


@dataclass(frozen=True)
class NavigationViews:
    """The widgets that show the edited image: the canvas, the image list, the display
    panel, the actions and button that name the image's state, and the state line."""

    canvas: MaskCanvas
    image_panel: ImageListPanel
    contrast: ContrastPanel
    actions: Actions
    job_panel: JobPanel
    state_label: QLabel


class Navigation(QObject):
    """Shows the images of the session's project, one at a time."""

    def __init__(self, session: Session, views: NavigationViews, review: Review,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.views = views
        self.review = review  # whether the shown image can be un-reviewed
        self.loader = ImageLoader(self)
        self.loader.loaded.connect(self._install)
        self._held = False              # see :meth:`hold`
        self._after_hold: str | None = None
        events = session.events
        events.image_requested.connect(self.show_image)
        events.image_state_changed.connect(self._on_image_state_changed)
        events.labels_changed.connect(lambda _name: self.refresh_thumbnail_overlay())
        views.image_panel.image_selected.connect(self.show_image)
        views.actions.next_image.triggered.connect(lambda: self.step(1))
        views.actions.previous_image.triggered.connect(lambda: self.step(-1))

    def show_image(self, name: str) -> None:
        """Save the current image, then show ``name`` with its labels.

        A large image is read on a worker thread (``app.image_loader``): meanwhile the
        canvas says so and nothing can be painted; choosing another image drops it."""
        if self._held:  # e.g. the masks are being rewritten: shown when released
            self._after_hold = name
            return
        s, cur = self.session, self.session.current
        if s.project is None or name in (self.loader.pending, cur.name if cur else None):
            return
        s.save_current()
        if self.loader.load(s.project, name, s.saver.unsaved):
            self.put_away(f"Loading {name} ...")
            self.views.image_panel.select(name)

    def step(self, delta: int) -> None:
        """Go to the next (1) or previous (-1) image of the filtered list."""
        name = self.views.image_panel.step(delta)
        if name is not None:
            self.show_image(name)

    def reload(self) -> None:
        """Read the shown image again (e.g. its labels were imported)."""
        cur = self.session.current
        if cur is not None:
            self.session.current = None
            self.show_image(cur.name)

    def put_away(self, message: str) -> None:
        """Show no image (nothing can be painted); the canvas says ``message``."""
        self.session.current = None
        canvas = self.views.canvas
        canvas.set_document(None)
        canvas.set_prediction(None)
        canvas.set_image(None, message)
        self.update_state()

    def hold(self, message: str) -> None:
        """Put the shown image away until :meth:`release`; images asked for meanwhile wait
        (the last one is shown then)."""
        self.loader.stop()
        cur = self.session.current
        self._held, self._after_hold = True, cur.name if cur is not None else None
        self.put_away(message)

    def release(self) -> None:
        """End :meth:`hold`: show the image that was shown, or asked for meanwhile."""
        name, self._held, self._after_hold = self._after_hold, False, None
        if name is not None and self.session.project is not None:
            self.show_image(name)

    def stop(self) -> None:
        """The project closes: drop any pending read and any hold."""
        self.loader.stop()
        self._held, self._after_hold = False, None

    def _install(self, cur: CurrentImage) -> None:
        """Make ``cur`` (``loader.loaded``) the edited image: canvas, list, display."""
        s, v = self.session, self.views
        s.current = cur  # the model controller predicts it (session.image_changed)
        v.canvas.set_document(cur.document)
        v.canvas.set_image(cur.rgb, f"Cannot show {cur.name}\n\n{cur.error}")
        v.canvas.set_prediction(cur.prediction)
        v.canvas.set_confidence(None, s.settings.low_confidence_threshold)
        v.contrast.image_shown(cur.rgb)
        v.canvas.fit()
        v.image_panel.select(cur.name)
        self.update_state()
        if s.project is not None:  # reopening the folder comes back here
            s.settings.last_images[str(s.project.image_folder)] = cur.name

    def _on_image_state_changed(self, name: str) -> None:
        project, cur = self.session.project, self.session.current
        if project is None:
            return
        self.views.image_panel.model.set_state(name, project.state(name))
        self.views.image_panel.set_counts(project.counts())
        if cur is not None and cur.name == name:
            self.update_state()

    def update_state(self) -> None:
        """Name the shown image's state: Use as example / Remove from examples, whether it
        can be un-reviewed, and the status bar's line."""
        project, cur, v = self.session.project, self.session.current, self.views
        state = project.state(cur.name) if project is not None and cur is not None else None
        v.actions.toggle_support.setText(
            "Remove from examples" if state == ImageState.SUPPORT else "Use as example")
        v.job_panel.support_button.setText(v.actions.toggle_support.text())
        v.actions.unreview.setEnabled(cur is not None and self.review.can_unreview(cur.name))
        v.state_label.setText(STATE_TEXT[state] if state is not None else "")

    def refresh_thumbnail_overlay(self) -> None:
        """Tint the shown image's thumbnail with its labels."""
        cur, model = self.session.current, self.views.image_panel.model
        if cur is None or self.session.project is None or cur.document is None:
            return
        shape = model.thumb_shape(cur.name)
        if shape is not None:
            from app.thumbs import shrink_labels

            model.set_overlay(cur.name, shrink_labels(cur.document.labels, shape))
