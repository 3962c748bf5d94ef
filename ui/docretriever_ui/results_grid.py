"""Search results as a grid of page thumbnails with the matched regions drawn in.

A hit whose file is not on disk (``Hit.missing``) gets a blank page marked "File missing"
instead of a thumbnail: its page was found from its stored vectors, but cannot be drawn."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMargins, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from docretriever.library import Hit
from docretriever_ui.session import LibrarySession
from docretriever_ui.tasks import TaskError, TaskHandle

THUMBNAIL = QSize(180, 240)
MISSING_MARK = "File missing"
# Item data: the thumbnail is drawn (UserRole); the hit's file is missing (this role).
MISSING_ROLE = Qt.ItemDataRole.UserRole + 1


class ResultsGrid(QListWidget):
    """Thumbnails of hits, best first; Enter or double-click opens one (``hit_activated``)."""

    hit_activated = Signal(int)  # index into ``hits``

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.hits: list[Hit] = []
        self._renders: list[TaskHandle] = []
        self.empty_text = (
            "Drop PDF files or folders anywhere on this window, then describe what a page shows "
            "in the search bar and press Enter."
        )
        self._generation = 0
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(THUMBNAIL)
        self.setGridSize(QSize(THUMBNAIL.width() + 24, THUMBNAIL.height() + 48))
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.itemActivated.connect(lambda item: self.hit_activated.emit(self.row(item)))

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.count() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#888888"))
            painter.drawText(
                self.viewport().rect().adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.empty_text,
            )
            painter.end()

    def show_hits(self, hits: list[Hit]) -> None:
        """Replace the grid with ``hits``; thumbnails arrive as they are rendered."""
        self._generation += 1
        generation = self._generation
        for handle in self._renders:  # the previous results' thumbnails are no longer wanted
            handle.cancel()
        self._renders = []
        self.clear()
        self.hits = list(hits)
        placeholder = _tile(None)
        # Thumbnails are rendered at about twice the icon's pixels for high-density screens.
        pixels = THUMBNAIL.width() * THUMBNAIL.height() * 4
        for index, hit in enumerate(self.hits):
            item = QListWidgetItem(
                QIcon(placeholder), f"{Path(hit.path).name}\np. {hit.page} · {hit.score:.2f}"
            )
            item.setToolTip(f"{hit.path}\npage {hit.page}, score {hit.score:.3f}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.addItem(item)
            if hit.missing:
                _mark_missing(item, hit)
            else:
                self._request_thumbnail(generation, index, hit, pixels)
        if self.count():
            self.setCurrentRow(0)

    def _request_thumbnail(self, generation: int, index: int, hit: Hit, pixels: int) -> None:
        def done(image: QImage) -> None:
            self._set_thumbnail(generation, index, image)

        def failed(error: TaskError) -> None:
            self._thumbnail_failed(generation, index, error.message)

        self._renders.append(self.session.render_hit(hit, pixels, on_done=done, on_error=failed))

    def _set_thumbnail(self, generation: int, index: int, image: QImage) -> None:
        if generation != self._generation:
            return  # a newer search replaced these results
        item = self.item(index)
        if item is not None:
            item.setIcon(QIcon(_tile(image)))
            item.setData(Qt.ItemDataRole.UserRole, True)

    def _thumbnail_failed(self, generation: int, index: int, message: str) -> None:
        item = self.item(index) if generation == self._generation else None
        if item is not None:
            item.setToolTip(f"{item.toolTip()}\n{message}")

    def thumbnails_ready(self) -> int:
        """How many thumbnails have been drawn (for tests and status)."""
        return sum(1 for i in range(self.count()) if self.item(i).data(Qt.ItemDataRole.UserRole))


def _mark_missing(item: QListWidgetItem, hit: Hit) -> None:
    """A missing file's card: the mark on a blank page, in its label, and where it was last seen."""
    # Not on a drive or share that is not connected, rather than gone: it may come back.
    mark = "Not available" if hit.unavailable else MISSING_MARK
    item.setIcon(QIcon(_missing_tile(hit.page_size, mark)))
    item.setText(f"{item.text()} · {mark}")
    item.setToolTip(f"{mark}: last seen at {hit.path}\npage {hit.page}, score {hit.score:.3f}")
    item.setData(MISSING_ROLE, True)


def _missing_tile(page_size: tuple[float, float], mark: str = MISSING_MARK) -> QPixmap:
    """A blank page of the hit's shape, dashed, with "File missing" across it."""
    tile = _tile(None)
    width, height = page_size
    scale = min((THUMBNAIL.width() - 8) / max(width, 1.0), (THUMBNAIL.height() - 8) / max(height, 1.0))
    page_width, page_height = int(width * scale), int(height * scale)
    x, y = (THUMBNAIL.width() - page_width) // 2, (THUMBNAIL.height() - page_height) // 2
    painter = QPainter(tile)
    painter.fillRect(x, y, page_width, page_height, QColor("#fbfbfb"))
    painter.setPen(QPen(QColor("#a0a0a0"), 1, Qt.PenStyle.DashLine))
    painter.drawRect(x, y, page_width - 1, page_height - 1)
    font = QFont(painter.font())
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("#b03a2e"))
    painter.drawText(x, y, page_width, page_height, Qt.AlignmentFlag.AlignCenter, mark)
    painter.end()
    return tile


def _tile(image: QImage | None) -> QPixmap:
    """A thumbnail-sized tile with the page centred and framed, so that portrait and landscape
    pages line up in the grid; an empty tile while the page is being rendered."""
    tile = QPixmap(THUMBNAIL)
    tile.fill(QColor("#f2f2f2"))
    if image is None:
        return tile
    scaled = image.scaled(
        THUMBNAIL.shrunkBy(QMargins(2, 2, 2, 2)),
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    painter = QPainter(tile)
    x = (THUMBNAIL.width() - scaled.width()) // 2
    y = (THUMBNAIL.height() - scaled.height()) // 2
    painter.drawImage(x, y, scaled)
    painter.setPen(QColor("#b0b0b0"))
    painter.drawRect(x - 1, y - 1, scaled.width() + 1, scaled.height() + 1)
    painter.end()
    return tile
