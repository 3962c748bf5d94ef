"""A page of a document on screen, sharp at any zoom, with where a search matched drawn over it:
what the full viewer and the preview pane beside the results both show.

The scene is laid out in PDF points of the displayed page (the frame of ``Hit.regions``), so
the region boxes and the heat map stay put while the page image underneath is re-rendered at
whatever resolution the current zoom needs; the image item is simply stretched onto the page
rectangle. Heat and boxes come from the core (``Hit.heat`` and ``Hit.regions``); this module only
draws them.
"""

from __future__ import annotations

import math

import numpy as np
import shiboken6
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QPainter,
    QPen,
    QPixmap,
    QResizeEvent,
    QShowEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QVBoxLayout, QWidget

from docretriever.highlight import Region
from docretriever_ui.overlay import HighlightOverlay, stretch_onto_page
from docretriever_ui.session import LibrarySession
from docretriever_ui.tasks import TaskError, TaskHandle

MAX_RENDER_PIXELS = 12_000_000
# Below this the first render (made before the window has its final size) would look soft.
MIN_RENDER_PIXELS = 1_000_000
# A new render is asked for only when the wanted size differs from the last one by this factor.
RERENDER_FACTOR = 1.25
SETTLE_MS = 200
ZOOM_MIN, ZOOM_MAX, ZOOM_STEP = 0.25, 16.0, 1.25
# A view narrower than this is a pane folded away in its splitter: nothing to render for.
_MIN_VIEW_PX = 16
_ABSENT_PAPER = QColor("#ececec")


class PageView(QGraphicsView):
    """A graphics view that keeps the page fitted, zooms relative to that fit, and pans by dragging.

    ``zoom`` is 1 when the whole page fits the view; ``scale_changed`` fires whenever the
    on-screen scale changes (zoom or resize), which is when a sharper render may be needed.
    """

    scale_changed = Signal()

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.zoom = 1.0
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundBrush(QBrush(QColor(96, 96, 96)))

    def fit_scale(self) -> float:
        page = self.sceneRect()
        if page.isEmpty():
            return 1.0
        view = self.viewport().size()
        margin = 16
        return max(
            1e-3, min((view.width() - margin) / page.width(), (view.height() - margin) / page.height())
        )

    def set_zoom(self, zoom: float, under_mouse: bool = False) -> None:
        self.zoom = min(ZOOM_MAX, max(ZOOM_MIN, zoom))
        anchor = QGraphicsView.ViewportAnchor
        self.setTransformationAnchor(anchor.AnchorUnderMouse if under_mouse else anchor.AnchorViewCenter)
        scale = self.fit_scale() * self.zoom
        self.setTransform(QTransform.fromScale(scale, scale))
        self.setTransformationAnchor(anchor.AnchorViewCenter)
        self.scale_changed.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            # One notch (120) zooms by about 20 %, and touchpads' small deltas zoom smoothly.
            self.set_zoom(self.zoom * 1.0015 ** event.angleDelta().y(), under_mouse=True)
            event.accept()
        else:
            super().wheelEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.set_zoom(self.zoom)


class PageCanvas(QWidget):
    """One page (``show_page``), rendered in the background at the resolution the zoom needs,
    with a hit's heat map and boxes over it (``set_highlights``) or none (``clear_highlights``).

    ``rendered`` is emitted when a render is shown; ``render_failed(TaskError)`` when the page
    shown could not be rendered (the owner says so its own way). A render that comes back for
    a page no longer shown, or after a newer one, is dropped; one not started yet when another
    is asked for is cancelled.
    """

    rendered = Signal()
    render_failed = Signal(object)

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.page_key: tuple[str, int] | None = None  # (doc id, 1-based page) shown
        self.page_size = (612.0, 792.0)
        self._requested_pixels = 0
        self._request_serial = 0
        self._shown_serial = 0
        self._pending: TaskHandle | None = None
        self._failed = False  # a page that failed (or cannot be drawn) is not asked for at each zoom

        self.scene = QGraphicsScene(self)
        self.paper = self.scene.addRect(QRectF(), QPen(Qt.PenStyle.NoPen), QBrush(Qt.GlobalColor.white))
        self.page_item = QGraphicsPixmapItem()
        self.page_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene.addItem(self.page_item)
        self.overlay = HighlightOverlay()
        self.overlay.setVisible(False)
        self.scene.addItem(self.overlay)
        self.view = PageView(self.scene, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

        self._settle = QTimer(self, singleShot=True)
        self._settle.timeout.connect(self._request_render)
        self.view.scale_changed.connect(lambda: self._settle.start(SETTLE_MS))

    # --- what is shown ------------------------------------------------------------------------

    def show_page(
        self, doc_id: str, page: int, page_size: tuple[float, float], *, absent: bool = False
    ) -> None:
        """Show page ``page`` (1-based) of a document, ``page_size`` points as displayed, fitted;
        ``absent``: its file is not on disk, so a blank sheet is shown and nothing is rendered."""
        self.page_key = (doc_id, page)
        self.page_size = page_size
        width, height = page_size
        self.scene.setSceneRect(0, 0, width, height)
        self.paper.setRect(0, 0, width, height)
        self.page_item.setPixmap(QPixmap())
        self._requested_pixels = 0
        self._cancel_pending()
        self.set_absent(absent)
        self.view.set_zoom(1.0)
        self._settle.start(0)  # after the current event, once the widget has its size

    def clear(self) -> None:
        """Show nothing (no page, no highlights)."""
        self.page_key = None
        self._cancel_pending()
        self.page_item.setPixmap(QPixmap())
        self.clear_highlights()

    def set_highlights(self, heat: np.ndarray, regions: list[Region]) -> None:
        """Draw a hit's heat map and boxes over the page shown (in its points)."""
        self.overlay.show_highlights(heat, regions, self.page_size)
        self.overlay.setVisible(not self._failed)

    def clear_highlights(self) -> None:
        self.overlay.setVisible(False)

    def set_absent(self, absent: bool) -> None:
        """A page that cannot be drawn: a grey sheet, no highlights (they mean little on it)."""
        self._failed = absent
        self.paper.setBrush(_ABSENT_PAPER if absent else QColor(Qt.GlobalColor.white))
        if absent:
            self.overlay.setVisible(False)

    @property
    def has_image(self) -> bool:
        return not self.page_item.pixmap().isNull()

    # --- rendering ----------------------------------------------------------------------------

    def wanted_pixels(self) -> int:
        """Pixels the page covers on screen at the current zoom, within the render bounds."""
        width, height = self.page_size
        scale = self.view.transform().m11() * self.view.devicePixelRatioF()
        return int(min(MAX_RENDER_PIXELS, max(MIN_RENDER_PIXELS, width * height * scale * scale)))

    def _request_render(self) -> None:
        if self.page_key is None or self._failed or self.view.viewport().width() < _MIN_VIEW_PX:
            return
        wanted = self.wanted_pixels()
        have = self._requested_pixels
        if have and abs(math.log(wanted / have)) < math.log(RERENDER_FACTOR):
            return
        self._requested_pixels = wanted
        self._request_serial += 1
        serial, key = self._request_serial, self.page_key
        self._cancel_pending()
        self._pending = self.session.render_page(
            key[0],
            key[1],
            wanted,
            lambda image: self._page_rendered(key, serial, image),
            lambda error: self._render_failed(key, serial, error),
        )

    def _cancel_pending(self) -> None:
        # Not started yet (arrowing through results queues renders): skipped. Started: dropped
        # when it comes back.
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _is_current(self, key: tuple[str, int], serial: int) -> bool:
        # The widget may be gone by the time a render comes back.
        return shiboken6.isValid(self) and key == self.page_key and serial > self._shown_serial

    def _page_rendered(self, key: tuple[str, int], serial: int, image: QImage) -> None:
        if not self._is_current(key, serial):
            return
        self._shown_serial = serial
        self.page_item.setPixmap(QPixmap.fromImage(image))
        stretch_onto_page(self.page_item, (image.width(), image.height()), self.page_size)
        self.rendered.emit()

    def _render_failed(self, key: tuple[str, int], serial: int, error: TaskError) -> None:
        if error.cancelled or not self._is_current(key, serial):
            return
        self._shown_serial = serial
        self._failed = True
        self.render_failed.emit(error)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._settle.start(0)  # shown again (a pane unfolded): the page may never have been drawn

    # --- zoom ---------------------------------------------------------------------------------

    def zoom_in(self) -> None:
        self.view.set_zoom(self.view.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.view.set_zoom(self.view.zoom / ZOOM_STEP)

    def fit(self) -> None:
        self.view.set_zoom(1.0)

    # --- the picture --------------------------------------------------------------------------

    def page_image(self) -> QImage:
        """The page as shown, at the rendered resolution, with the overlay at its current opacity."""
        pixmap = self.page_item.pixmap()
        if pixmap.isNull():
            return QImage()
        image = QImage(pixmap.size(), QImage.Format.Format_RGB32)
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        # The render is cell-aligned, so its shape may differ from the page's by a few pixels.
        self.scene.render(
            painter, QRectF(image.rect()), self.scene.sceneRect(), Qt.AspectRatioMode.IgnoreAspectRatio
        )
        painter.end()
        return image
