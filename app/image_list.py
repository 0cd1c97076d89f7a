"""The image list: thumbnails with a status badge, a status filter and counts per status."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.thumbs import THUMB, tint
from engine.io.project import ImageState

STATE_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_COLORS = {
    ImageState.UNLABELLED: QColor(110, 110, 110),
    ImageState.SUPPORT: QColor(52, 120, 246),
    ImageState.PREDICTED: QColor(230, 140, 20),
    ImageState.REVIEWED: QColor(40, 170, 80),
}
# One word for the images a class is learned from, everywhere in the UI: "example".
STATE_NAMES = {ImageState.UNLABELLED: "unlabelled", ImageState.SUPPORT: "example",
               ImageState.PREDICTED: "predicted", ImageState.REVIEWED: "reviewed"}
AnyIndex = QModelIndex | QPersistentModelIndex


def count_text(state: ImageState, n: int) -> str:
    """'3 examples', '1 example', '2 predicted'."""
    plural = "s" if state == ImageState.SUPPORT and n != 1 else ""
    return f"{n} {STATE_NAMES[state]}{plural}"


@dataclass
class _Entry:
    name: str
    state: ImageState
    thumb: np.ndarray | None = None       # (h, w, 3) small RGB
    overlay: np.ndarray | None = None     # (h, w) small labels
    pixmap: QPixmap | None = None
    error: str = ""


class ImageListModel(QAbstractListModel):
    """One row per image: name, state, thumbnail (tinted with its labels)."""

    def __init__(self) -> None:
        super().__init__()
        self._entries: list[_Entry] = []
        self._rows: dict[str, int] = {}
        self.colors: dict[int, tuple[int, int, int]] = {}

    def reset(self, items: list[tuple[str, ImageState]]) -> None:
        """Replace all rows."""
        self.beginResetModel()
        self._entries = [_Entry(name, state) for name, state in items]
        self._rows = {e.name: i for i, e in enumerate(self._entries)}
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._pixmap(entry)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{entry.name}\n{STATE_NAMES[entry.state]}" + (
                f"\n{entry.error}" if entry.error else "")
        if role == STATE_ROLE:
            return entry.state.value
        return None

    def _pixmap(self, entry: _Entry) -> QPixmap | None:
        if entry.pixmap is None and entry.thumb is not None:
            rgb = np.ascontiguousarray(tint(entry.thumb, entry.overlay, self.colors))
            h, w = rgb.shape[:2]
            entry.pixmap = QPixmap.fromImage(
                QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())
        return entry.pixmap

    def names(self) -> list[str]:
        """All image names in order."""
        return [e.name for e in self._entries]

    def row_of(self, name: str) -> int:
        """Row of image ``name`` (-1 when absent)."""
        return self._rows.get(name, -1)

    def set_state(self, name: str, state: ImageState) -> None:
        """Update the badge of ``name``."""
        self._update(name, state=state)

    def set_thumbnail(self, name: str, thumb: np.ndarray | None, error: str = "") -> None:
        """Set the small RGB picture of ``name`` (None with ``error`` for unreadable files)."""
        self._update(name, thumb=thumb, error=error)

    def set_overlay(self, name: str, small_labels: np.ndarray | None) -> None:
        """Set the small label map tinted over the thumbnail of ``name``."""
        self._update(name, overlay=small_labels)

    def has_overlay(self, name: str) -> bool:
        """True when ``name`` already shows a label tint."""
        row = self.row_of(name)
        return row >= 0 and self._entries[row].overlay is not None

    def thumb_shape(self, name: str) -> tuple[int, int] | None:
        """(h, w) of the thumbnail of ``name``, when it is loaded."""
        row = self.row_of(name)
        thumb = self._entries[row].thumb if row >= 0 else None
        return None if thumb is None else (thumb.shape[0], thumb.shape[1])

    def refresh_colors(self, colors: dict[int, tuple[int, int, int]]) -> None:
        """New class colours: re-tint every thumbnail."""
        self.colors = dict(colors)
        for entry in self._entries:
            entry.pixmap = None
        if self._entries:
            self.dataChanged.emit(self.index(0), self.index(len(self._entries) - 1))

    def _update(self, name: str, **values: object) -> None:
        row = self.row_of(name)
        if row < 0:
            return
        entry = self._entries[row]
        for key, value in values.items():
            setattr(entry, key, value)
        entry.pixmap = None
        self.dataChanged.emit(self.index(row), self.index(row))


class _BadgeDelegate(QStyledItemDelegate):
    """Thumbnail, name, and a coloured pill with the state."""

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return QSize(220, THUMB + 8)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        painter.save()
        rect: QRect = option.rect  # type: ignore[attr-defined]
        if option.state & QStyle.StateFlag.State_Selected:  # type: ignore[attr-defined]
            painter.fillRect(rect, option.palette.highlight())  # type: ignore[attr-defined]
        pix = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pix, QPixmap):
            painter.drawPixmap(rect.x() + 4 + (THUMB - pix.width()) // 2,
                               rect.y() + 4 + (THUMB - pix.height()) // 2, pix)
        else:
            painter.fillRect(QRect(rect.x() + 4, rect.y() + 4, THUMB, THUMB), QColor(50, 50, 50))
        state = ImageState(index.data(STATE_ROLE))
        text_x = rect.x() + THUMB + 12
        painter.setPen(option.palette.text().color())  # type: ignore[attr-defined]
        painter.drawText(QRect(text_x, rect.y() + 6, rect.width() - THUMB - 16, 20),
                         Qt.AlignmentFlag.AlignLeft, str(index.data()))
        badge = QRect(text_x, rect.y() + 32, 84, 18)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(STATE_COLORS[state])
        selected = option.state & QStyle.StateFlag.State_Selected  # type: ignore[attr-defined]
        # a white rim keeps the blue "example" pill visible on the blue selection
        painter.setPen(QColor(255, 255, 255) if selected else Qt.PenStyle.NoPen)
        painter.drawRoundedRect(badge, 9, 9)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, STATE_NAMES[state])
        painter.restore()


class _StateFilter(QSortFilterProxyModel):
    """Rows in ``state`` (all when None), plus the ``pinned`` (current) image: an image whose
    state changes while it is shown (a first stroke on a predicted image under the
    "Predicted" filter) stays listed, or Qt would make its neighbour current and switch
    the canvas away mid-edit."""

    def __init__(self) -> None:
        super().__init__()
        self.state: str | None = None
        self.pinned: str | None = None

    def filterAcceptsRow(self, row: int, parent: AnyIndex) -> bool:
        if self.state is None:
            return True
        index = self.sourceModel().index(row, 0, parent)
        return index.data(STATE_ROLE) == self.state or (
            self.pinned is not None and index.data() == self.pinned)


class ImageListPanel(QWidget):
    """List of the folder's images; emits the chosen image's name."""

    image_selected = Signal(str)
    menu_requested = Signal(str, QPoint)  # image name, global position (right click)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ImageListModel()
        self._proxy = _StateFilter()
        self._proxy.setSourceModel(self.model)
        self.filter_box = QComboBox()
        self.filter_box.addItem("All images", None)
        for state in ImageState:
            label = "Examples" if state == ImageState.SUPPORT else STATE_NAMES[state].capitalize()
            self.filter_box.addItem(label, state.value)
        self.filter_box.currentIndexChanged.connect(self._on_filter_changed)
        self.view = QListView()
        self.view.setModel(self._proxy)
        self.view.setItemDelegate(_BadgeDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_view_menu)
        self.counts_label = QLabel()
        self.counts_label.setWordWrap(True)
        self.setMinimumWidth(250)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for w in (self.filter_box, self.view, self.counts_label):
            layout.addWidget(w)

    def set_counts(self, counts: dict[ImageState, int]) -> None:
        """Show how many images are in each state."""
        parts = [f"<span style='color:{STATE_COLORS[s].name()}'>&#9679;</span> "
                 f"{count_text(s, counts[s])}" for s in ImageState]
        self.counts_label.setText("&nbsp;&nbsp;".join(parts[:2]) + "<br>"
                                  + "&nbsp;&nbsp;".join(parts[2:]))
        self._proxy.invalidate()

    def select(self, name: str) -> None:
        """Make ``name`` current (shows it even if the filter hid it)."""
        row = self.model.row_of(name)
        if row < 0:
            return
        index = self._proxy.mapFromSource(self.model.index(row))
        if not index.isValid():
            self.filter_box.setCurrentIndex(0)
            index = self._proxy.mapFromSource(self.model.index(row))
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)

    def step(self, delta: int) -> str | None:
        """Name of the image ``delta`` rows from the current one in the filtered list."""
        count = self._proxy.rowCount()
        if count == 0:
            return None
        row = self.view.currentIndex().row()
        row = 0 if row < 0 else min(count - 1, max(0, row + delta))
        return str(self._proxy.index(row, 0).data())

    def _on_view_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if index.isValid():
            self.menu_requested.emit(str(index.data()), self.view.viewport().mapToGlobal(pos))

    def _on_filter_changed(self) -> None:
        self._proxy.state = self.filter_box.currentData()
        self._proxy.invalidate()

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._proxy.pinned = str(current.data())
            self.image_selected.emit(str(current.data()))
