"""The page viewer: one search result's page, sharp at any zoom, with where it matched drawn over.

The scene is laid out in PDF points of the displayed page (the frame of ``Hit.regions``), so
the region boxes and the heat map stay put while the page image underneath is re-rendered at
whatever resolution the current zoom needs; the image item is simply stretched onto the page
rectangle. Heat and boxes come from the core (``Hit.heat`` and ``Hit.regions``); this module only
draws them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import shiboken6
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QImage,
    QKeySequence,
    QPainter,
    QPen,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from docretriever.errors import DocRetrieverError
from docretriever.library import Hit
from docretriever_ui.error_dialog import show_error
from docretriever_ui.missing_files import FileAbsentBanner
from docretriever_ui.overlay import HighlightOverlay, stretch_onto_page
from docretriever_ui.session import LibrarySession
from docretriever_ui.system import open_in_pdf_viewer
from docretriever_ui.tasks import TaskError

MAX_RENDER_PIXELS = 12_000_000
# Below this the first render (made before the window has its final size) would look soft.
MIN_RENDER_PIXELS = 1_000_000
# A new render is asked for only when the wanted size differs from the last one by this factor.
RERENDER_FACTOR = 1.25
SETTLE_MS = 200
ZOOM_MIN, ZOOM_MAX, ZOOM_STEP = 0.25, 16.0, 1.25
DEFAULT_OPACITY = 50


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


class PageViewer(QDialog):
    """Shows ``hits[index]``'s page with its highlights; Previous/Next walk through ``hits``.

    ``current_changed(int)`` is emitted when another hit is shown, so the results list can
    follow. Renders are asked of the session in the background; one that arrives for a hit no
    longer shown, or after a newer one, is dropped.
    """

    current_changed = Signal(int)

    def __init__(
        self, session: LibrarySession, hits: list[Hit], index: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        if not hits:
            raise ValueError("the viewer needs at least one hit")
        self.session = session
        self.hits = list(hits)
        self._index = -1
        self._requested_pixels = 0
        self._request_serial = 0
        self._shown_serial = 0
        self._word_masks: list[np.ndarray | None] = [None]
        self._failed_index = -1  # a page that failed to render is not asked for again at each zoom

        self.scene = QGraphicsScene(self)
        self.paper = self.scene.addRect(QRectF(), QPen(Qt.PenStyle.NoPen), QBrush(Qt.GlobalColor.white))
        self.page_item = QGraphicsPixmapItem()
        self.page_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene.addItem(self.page_item)
        self.overlay = HighlightOverlay()
        self.scene.addItem(self.overlay)
        self.view = PageView(self.scene, self)

        self._settle = QTimer(self, singleShot=True)
        self._settle.timeout.connect(self._request_render)
        self.view.scale_changed.connect(lambda: self._settle.start(SETTLE_MS))

        self._build_controls()
        self.resize(1000, 800)
        self.show_hit(index)

    # --- layout -------------------------------------------------------------------------------

    def _action(self, text: str, keys: list[QKeySequence], slot: object, tip: str = "") -> QAction:
        action = QAction(text, self)
        # A key listed twice would make the shortcut ambiguous, and an ambiguous one never fires.
        action.setShortcuts(list({key.toString(): key for key in keys}.values()))
        action.setToolTip(tip or text)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton(self)
        button.setDefaultAction(action)
        return button

    def _build_controls(self) -> None:
        key, standard = QKeySequence, QKeySequence.StandardKey
        self.previous_action = self._action(
            "◀ Previous", [key(Qt.Key.Key_Left), key(Qt.Key.Key_PageUp)], self.show_previous
        )
        self.next_action = self._action(
            "Next ▶", [key(Qt.Key.Key_Right), key(Qt.Key.Key_PageDown)], self.show_next
        )
        zoom_in_keys = [key("Ctrl+="), key("Ctrl++"), *key.keyBindings(standard.ZoomIn)]
        self.zoom_in_action = self._action("+", zoom_in_keys, self.zoom_in, "Zoom in (Ctrl+= or Ctrl+wheel)")
        zoom_out_keys = [key("Ctrl+-"), *key.keyBindings(standard.ZoomOut)]
        self.zoom_out_action = self._action(
            "−", zoom_out_keys, self.zoom_out, "Zoom out (Ctrl+- or Ctrl+wheel)"
        )
        self.fit_action = self._action(
            "Fit", [key("Ctrl+0")], self.fit, "Fit the page to the window (Ctrl+0)"
        )
        self.copy_action = self._action("Copy image", key.keyBindings(standard.Copy), self.copy_image)
        self.open_action = self._action("Open in PDF viewer", [], self.open_in_viewer)

        self.title = QLabel(self)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.file_absent = FileAbsentBanner(self)
        self.words = QComboBox(self)
        self.words.setToolTip("Show where one word of the query matched")
        self.words.currentIndexChanged.connect(self._redraw_overlay)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setToolTip("Opacity of the heat map and boxes")
        self.opacity.setMaximumWidth(160)
        self.opacity.valueChanged.connect(self._set_opacity)
        self.opacity_label = QLabel(self)
        self.opacity.setValue(DEFAULT_OPACITY)

        top = QHBoxLayout()
        for action in (self.previous_action, self.next_action):
            top.addWidget(self._button(action))
        top.addWidget(self.title, 1)
        for action in (self.zoom_out_action, self.fit_action, self.zoom_in_action):
            top.addWidget(self._button(action))
        bottom = QHBoxLayout()
        for widget in (QLabel("Highlight:", self), self.words, self.opacity, self.opacity_label):
            bottom.addWidget(widget)
        bottom.addStretch(1)
        for action in (self.copy_action, self.open_action):
            bottom.addWidget(self._button(action))
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.file_absent)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)

    # --- which hit ----------------------------------------------------------------------------

    @property
    def current_index(self) -> int:
        return self._index

    @property
    def hit(self) -> Hit:
        return self.hits[self._index]

    def show_next(self) -> None:
        if self._index + 1 < len(self.hits):
            self.show_hit(self._index + 1)

    def show_previous(self) -> None:
        if self._index > 0:
            self.show_hit(self._index - 1)

    def show_hit(self, index: int) -> None:
        """Show ``hits[index]``: its page (rendered in the background) and its highlights."""
        if not 0 <= index < len(self.hits):
            raise IndexError(f"no hit {index} among {len(self.hits)}")
        changed = index != self._index
        self._index = index
        hit = self.hit
        width, height = hit.page_size
        self.scene.setSceneRect(0, 0, width, height)
        self.paper.setRect(0, 0, width, height)
        self.page_item.setPixmap(QPixmap())
        self.copy_action.setEnabled(False)
        self._requested_pixels = 0
        # A missing file's page cannot be rendered: say so instead of asking (and failing).
        self._failed_index = index if hit.missing else -1
        self._show_file_absent(hit.missing)
        name = Path(hit.path).name
        self.title.setText(
            f"<b>{name}</b> — page {hit.page} — score {hit.score:.3f} "
            f"<span style='color: gray'>(result {index + 1} of {len(self.hits)})</span>"
        )
        self.title.setToolTip(hit.path)
        self.setWindowTitle(f"{name} — page {hit.page}")
        self.previous_action.setEnabled(index > 0)
        self.next_action.setEnabled(index + 1 < len(self.hits))
        self._fill_words(hit)
        self._redraw_overlay()
        self.view.set_zoom(1.0)
        self._settle.start(0)  # after the current event, once the window has its size
        if changed:
            self.current_changed.emit(index)

    def _fill_words(self, hit: Hit) -> None:
        """Offer the query's words, keeping the picked word when the next hit has it too."""
        picked = self.words.currentText()
        words = hit.query.words()
        self.words.blockSignals(True)
        self.words.clear()
        self.words.addItem("All words")
        self.words.addItems([word for word, _ in words])
        self._word_masks = [None, *(mask for _, mask in words)]
        self.words.setCurrentIndex(max(0, self.words.findText(picked)))
        self.words.setEnabled(bool(words))
        self.words.blockSignals(False)

    # --- overlay ------------------------------------------------------------------------------

    def _redraw_overlay(self) -> None:
        mask = self._word_masks[max(0, self.words.currentIndex())]
        hit = self.hit
        self.overlay.show_highlights(hit.heat(mask), hit.regions(mask), hit.page_size)

    def _set_opacity(self, value: int) -> None:
        self.overlay.setOpacity(value / 100)
        self.opacity_label.setText(f"{value} %")

    # --- rendering ----------------------------------------------------------------------------

    def wanted_pixels(self) -> int:
        """Pixels the page covers on screen at the current zoom, within the render bounds."""
        width, height = self.hit.page_size
        scale = self.view.transform().m11() * self.view.devicePixelRatioF()
        return int(min(MAX_RENDER_PIXELS, max(MIN_RENDER_PIXELS, width * height * scale * scale)))

    def _request_render(self) -> None:
        if self._failed_index == self._index:
            return
        wanted = self.wanted_pixels()
        have = self._requested_pixels
        if have and abs(math.log(wanted / have)) < math.log(RERENDER_FACTOR):
            return
        self._requested_pixels = wanted
        self._request_serial += 1
        serial, index = self._request_serial, self._index
        hit = self.hit
        self.session.render_page(
            hit.doc_id,
            hit.page,
            wanted,
            lambda image: self._page_rendered(index, serial, image),
            lambda error: self._render_failed(index, serial, error),
        )

    def _is_current(self, index: int, serial: int) -> bool:
        # The dialog may be gone by the time a render comes back.
        return shiboken6.isValid(self) and index == self._index and serial > self._shown_serial

    def _page_rendered(self, index: int, serial: int, image: QImage) -> None:
        if not self._is_current(index, serial):
            return
        self._shown_serial = serial
        self.page_item.setPixmap(QPixmap.fromImage(image))
        stretch_onto_page(self.page_item, (image.width(), image.height()), self.hit.page_size)
        self.copy_action.setEnabled(True)

    def _render_failed(self, index: int, serial: int, error: TaskError) -> None:
        if self._is_current(index, serial):
            self._shown_serial = serial
            self._failed_index = index
            if os.path.exists(self.hit.path):
                show_error(error, self)
            else:  # gone since the search: not an error, the same as a hit found missing
                self._show_file_absent(True)

    def _show_file_absent(self, absent: bool) -> None:
        self.file_absent.show_for(self.hit if absent else None)
        self.overlay.setVisible(not absent)  # where it matched means little on a blank page
        self.paper.setBrush(QColor("#ececec") if absent else QColor(Qt.GlobalColor.white))
        self.open_action.setEnabled(not absent)

    # --- zoom ---------------------------------------------------------------------------------

    def zoom_in(self) -> None:
        self.view.set_zoom(self.view.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.view.set_zoom(self.view.zoom / ZOOM_STEP)

    def fit(self) -> None:
        self.view.set_zoom(1.0)

    # --- actions ------------------------------------------------------------------------------

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

    def copy_image(self) -> None:
        image = self.page_image()
        if not image.isNull():
            QApplication.clipboard().setImage(image)

    def open_in_viewer(self) -> None:
        hit = self.hit
        try:
            open_in_pdf_viewer(hit.path, hit.page)
        except DocRetrieverError as error:
            show_error(TaskError(str(error), error.details), self)
