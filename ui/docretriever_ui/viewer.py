"""The full page viewer: one search result's page in a window of its own, zoomable, with where
it matched drawn over (the page itself: :mod:`~docretriever_ui.preview_canvas`), the query's
words to pick from, and Previous/Next through the results.

It does not block the main window: the query can be refined while it is open.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from docretriever.errors import DocRetrieverError
from docretriever.library import Hit
from docretriever.library.hits import page_name
from docretriever_ui.error_dialog import show_error
from docretriever_ui.missing_files import FileAbsentBanner
from docretriever_ui.overlay import HighlightOverlay
from docretriever_ui.preview_canvas import PageCanvas, PageView
from docretriever_ui.results_order import open_in_viewer_label
from docretriever_ui.session import LibrarySession
from docretriever_ui.system import open_in_pdf_viewer
from docretriever_ui.tasks import TaskError

DEFAULT_OPACITY = 50


class PageViewer(QDialog):
    """Shows ``hits[index]``'s page with its highlights; Previous/Next walk through ``hits``.

    ``current_changed(int)`` is emitted when another hit is shown, so the results list can
    follow. Not modal: show it with ``show()``. Renders are asked of the session in the
    background (see :class:`~docretriever_ui.preview_canvas.PageCanvas`).
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
        self._word_masks: list[np.ndarray | None] = [None]
        # A window of its own beside the main one, never over it modally.
        self.setModal(False)
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint)
        self.setWindowFlag(Qt.WindowType.WindowMinimizeButtonHint)

        self.canvas = PageCanvas(session, self)
        self.canvas.rendered.connect(lambda: self.copy_action.setEnabled(True))
        self.canvas.render_failed.connect(self._render_failed)

        self._build_controls()
        self.resize(1000, 800)
        self.show_hit(index)

    # The canvas's parts, under the names the viewer has always had.
    @property
    def view(self) -> PageView:
        return self.canvas.view

    @property
    def scene(self) -> QGraphicsScene:
        return self.canvas.scene

    @property
    def page_item(self) -> QGraphicsPixmapItem:
        return self.canvas.page_item

    @property
    def overlay(self) -> HighlightOverlay:
        return self.canvas.overlay

    @property
    def paper(self) -> QGraphicsRectItem:
        return self.canvas.paper

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
        layout.addWidget(self.canvas, 1)
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
        self.copy_action.setEnabled(False)
        # A missing file's page cannot be rendered: say so instead of asking (and failing).
        self.canvas.show_page(hit.doc_id, hit.page, hit.page_size, absent=hit.missing)
        self._show_file_absent(hit.missing)
        self.open_action.setText(open_in_viewer_label(hit.path).removesuffix(" at this page"))
        name = Path(hit.path).name
        self.title.setText(
            f"<b>{escape(name)}</b> — {page_name(hit, 'page')} — score {hit.score:.3f} "
            f"<span style='color: gray'>(result {index + 1} of {len(self.hits)})</span>"
        )
        self.title.setToolTip(hit.path)
        self.setWindowTitle(f"{name} — {page_name(hit, 'page')}")
        self.previous_action.setEnabled(index > 0)
        self.next_action.setEnabled(index + 1 < len(self.hits))
        self._fill_words(hit)
        self._redraw_overlay()
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
        self.canvas.set_highlights(hit.heat(mask), hit.regions(mask))

    def _set_opacity(self, value: int) -> None:
        self.overlay.setOpacity(value / 100)
        self.opacity_label.setText(f"{value} %")

    # --- rendering ----------------------------------------------------------------------------

    def wanted_pixels(self) -> int:
        """Pixels the page covers on screen at the current zoom (see PageCanvas)."""
        return self.canvas.wanted_pixels()

    def _render_failed(self, error: TaskError) -> None:
        if os.path.exists(self.hit.path):
            show_error(error, self)
        else:  # gone since the search: not an error, the same as a hit found missing
            self._show_file_absent(True)

    def _show_file_absent(self, absent: bool) -> None:
        self.file_absent.show_for(self.hit if absent else None)
        if absent:  # a blank sheet: where it matched means little on it
            self.canvas.set_absent(True)
        self.open_action.setEnabled(not absent)

    # --- zoom ---------------------------------------------------------------------------------

    def zoom_in(self) -> None:
        self.canvas.zoom_in()

    def zoom_out(self) -> None:
        self.canvas.zoom_out()

    def fit(self) -> None:
        self.canvas.fit()

    # --- actions ------------------------------------------------------------------------------

    def page_image(self) -> QImage:
        """The page as shown, at the rendered resolution, with the overlay at its current opacity."""
        return self.canvas.page_image()

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
