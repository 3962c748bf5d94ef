"""The preview beside the results: the selected result's page with where it matched, without
leaving the main window, so that a query can be refined while looking.

Previous/Next result walk the results in relevance order (``current_changed`` tells the grid);
Previous/Next page leaf through the result's document, whose other pages have no highlights
(the search scored only the page it found). "Full view" asks for the full viewer
(``open_requested``), as Enter or a double-click on a result does.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from docretriever.library import Hit
from docretriever.library.hits import page_name, page_name_of
from docretriever_ui.error_dialog import show_error
from docretriever_ui.like_search import like_title
from docretriever_ui.missing_files import FileAbsentBanner
from docretriever_ui.preview_canvas import PageCanvas
from docretriever_ui.session import LibrarySession
from docretriever_ui.tasks import TaskError

if TYPE_CHECKING:  # its module loads PyMuPDF, which the window does not need to open
    from docretriever.documents.pdf import PageInfo

PLACEHOLDER = "Select a result to see its page here, with where it matched."


class PreviewPane(QWidget):
    """``hits[index]``'s page (see the module docstring). :meth:`show_result` shows one; the
    pane keeps the list it was given (the grid's), so that its Next result follows the grid."""

    current_changed = Signal(int)  # the pane's Previous/Next result showed hits[index]
    open_requested = Signal(int)  # the full viewer, for hits[index]
    more_like_requested = Signal(str, int, str)  # doc id, 1-based page, its title: pages like it

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.hits: list[Hit] = []
        self.index = -1
        self.page = 0  # the 1-based page shown, of hits[index]'s document
        self._pages: dict[str, list[PageInfo]] = {}  # doc id -> its pages, once read
        self._asked: set[str] = set()
        self._error = TaskError("", "")  # the render failure said in the pane, for its details

        self.canvas = PageCanvas(session, self)
        self.canvas.render_failed.connect(self._render_failed)
        self.canvas.rendered.connect(lambda: self.render_error.setVisible(False))
        self._build()
        self.show_result([], -1)

    # --- layout -------------------------------------------------------------------------------

    def _action(self, text: str, tip: str, slot: object, keys: list[QKeySequence] | None = None) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        if keys:
            action.setShortcuts(keys)
            # Only while the pane has the focus: the results grid keeps its own keys.
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton(self)
        button.setDefaultAction(action)
        return button

    def _build(self) -> None:
        key = QKeySequence
        self.previous_result_action = self._action("◀ Result", "Previous result", self.show_previous_result)
        self.next_result_action = self._action("Result ▶", "Next result", self.show_next_result)
        self.open_action = self._action(
            "Full view",
            "Open this page in the full viewer, to zoom and pick words (Enter on a result)",
            self._open,
        )
        self.previous_page_action = self._action(
            "◀ Page",
            "Previous page of this document (Page Up)",
            self.show_previous_page,
            [key(Qt.Key.Key_PageUp)],
        )
        self.next_page_action = self._action(
            "Page ▶",
            "Next page of this document (Page Down)",
            self.show_next_page,
            [key(Qt.Key.Key_PageDown)],
        )
        self.matched_page_action = self._action(
            "Matched page", "Back to the page the search found", self.show_matched_page
        )
        self.more_like_action = self._action(
            "More like this", "Find the pages most like the page shown here", self._more_like
        )

        self.position = QLabel(self)  # "2 of 40"
        self.position.setStyleSheet("color: gray")
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        # A long file name must not widen the pane: it is cut, and whole in the tooltip.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.page_label = QLabel(self)
        self.page_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.page_label.setMinimumWidth(90)
        self.file_absent = FileAbsentBanner(self)
        self.render_error = QLabel(self)
        self.render_error.setWordWrap(True)
        self.render_error.setStyleSheet("QLabel { background: #fdecea; color: #611a15; padding: 6px; }")
        self.render_error.linkActivated.connect(lambda _: show_error(self._error, self))
        self.render_error.hide()
        self.placeholder = QLabel(PLACEHOLDER, self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #888888; padding: 24px")

        results = QHBoxLayout()
        for action in (self.previous_result_action, self.next_result_action):
            results.addWidget(self._button(action))
        results.addWidget(self.position)
        results.addStretch(1)
        results.addWidget(self._button(self.more_like_action))
        results.addWidget(self._button(self.open_action))
        pages = QHBoxLayout()
        pages.addWidget(self._button(self.previous_page_action))
        pages.addWidget(self.page_label)
        pages.addWidget(self._button(self.next_page_action))
        pages.addStretch(1)
        # Shown only away from the page found (a tool button does not follow its action's visibility).
        self.matched_page_button = self._button(self.matched_page_action)
        pages.addWidget(self.matched_page_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(results)
        layout.addWidget(self.title)
        layout.addWidget(self.file_absent)
        layout.addWidget(self.render_error)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.placeholder, 1)
        layout.addLayout(pages)

    # --- which result -------------------------------------------------------------------------

    @property
    def hit(self) -> Hit | None:
        return self.hits[self.index] if 0 <= self.index < len(self.hits) else None

    def show_result(self, hits: list[Hit], index: int) -> None:
        """Show ``hits[index]``'s page with its highlights; nothing (a hint) for -1. The same
        page again (the results refreshed), its file still there or still not, keeps the page and
        zoom shown."""
        if hits is not self.hits:
            self._pages.clear()  # another search: a document may have been indexed again since
            self._asked.clear()
        shown = self.hit
        self.hits = hits
        self.index = index if 0 <= index < len(hits) else -1
        hit = self.hit
        if hit is None:
            self.canvas.clear()
        elif shown is None or (shown.doc_id, shown.page, shown.missing) != (
            hit.doc_id,
            hit.page,
            hit.missing,
        ):
            self._ask_pages(hit.doc_id)
            self.show_page(hit.page)
        self._update()

    def show_previous_result(self) -> None:
        self._step_result(-1)

    def show_next_result(self) -> None:
        self._step_result(1)

    def _step_result(self, step: int) -> None:
        index = self.index + step
        if self.hit is not None and 0 <= index < len(self.hits):
            self.show_result(self.hits, index)
            self.current_changed.emit(index)

    def _more_like(self) -> None:
        hit = self.hit
        if hit is not None:
            infos = self._pages.get(hit.doc_id, [])
            label = infos[self.page - 1].label if 0 < self.page <= len(infos) else hit.page_label
            title = like_title(hit.path, self.page, label, hit.page_count)
            self.more_like_requested.emit(hit.doc_id, self.page, title)

    def _open(self) -> None:
        if self.hit is not None:
            self.open_requested.emit(self.index)

    # --- which page ---------------------------------------------------------------------------

    def show_page(self, page: int) -> None:
        """Show page ``page`` (1-based) of the result's document: with the highlights when it is
        the page found, without on any other."""
        hit = self.hit
        if hit is None:
            return
        infos = self._pages.get(hit.doc_id, [])
        matched = page == hit.page
        if not matched and not 1 <= page <= len(infos):
            return
        self.page = page
        self.render_error.hide()
        size = hit.page_size if matched else (infos[page - 1].width_pt, infos[page - 1].height_pt)
        self.canvas.show_page(hit.doc_id, page, size, absent=hit.missing)
        if matched:
            self.canvas.set_highlights(hit.heat(), hit.regions())
        else:
            self.canvas.clear_highlights()
        self.file_absent.show_for(hit if hit.missing else None)
        self._update()

    def show_previous_page(self) -> None:
        self.show_page(self.page - 1)

    def show_next_page(self) -> None:
        self.show_page(self.page + 1)

    def show_matched_page(self) -> None:
        if self.hit is not None:
            self.show_page(self.hit.page)

    def _ask_pages(self, doc_id: str) -> None:
        if doc_id in self._asked:
            return
        self._asked.add(doc_id)
        self.session.page_infos(
            doc_id,
            lambda infos: self._pages_read(doc_id, infos),
            lambda error: None,  # the pages found stay shown; leafing through waits for another try
        )

    def _pages_read(self, doc_id: str, infos: list[PageInfo]) -> None:
        self._pages[doc_id] = infos
        if self.hit is not None and self.hit.doc_id == doc_id:
            self._update()

    def page_title(self) -> str:
        """The page shown, as a person names it: "p. 1 (3/5)"."""
        hit = self.hit
        if hit is None:
            return ""
        if self.page == hit.page:
            return page_name(hit)
        infos = self._pages.get(hit.doc_id, [])
        label = infos[self.page - 1].label if 0 < self.page <= len(infos) else None
        return page_name_of(self.page, label, len(infos) or hit.page_count)

    # --- what it says -------------------------------------------------------------------------

    def _update(self) -> None:
        hit = self.hit
        self.canvas.setVisible(hit is not None)
        self.placeholder.setVisible(hit is None)
        if hit is None:
            self.file_absent.show_for(None)
            self.render_error.hide()
        count = len(self._pages.get(hit.doc_id, [])) if hit is not None else 0
        leafable = hit is not None and not hit.missing and count > 0
        self.previous_result_action.setEnabled(hit is not None and self.index > 0)
        self.next_result_action.setEnabled(hit is not None and self.index + 1 < len(self.hits))
        self.open_action.setEnabled(hit is not None)
        self.more_like_action.setEnabled(hit is not None)
        self.previous_page_action.setEnabled(leafable and self.page > 1)
        self.next_page_action.setEnabled(leafable and self.page < count)
        away = hit is not None and self.page != hit.page
        self.matched_page_action.setEnabled(away)
        self.matched_page_button.setVisible(away)
        self.position.setText(f"{self.index + 1} of {len(self.hits)}" if hit is not None else "")
        self.page_label.setText(self.page_title())
        if hit is None:
            self.title.setText("")
            self.title.setToolTip("")
            return
        self.title.setText(f"<b>{escape(Path(hit.path).name)}</b>")
        self.title.setToolTip(hit.path)
        if self.page != hit.page:
            self.matched_page_action.setText(f"Back to {page_name(hit)}")
            self.page_label.setToolTip("No highlights: the search found another page of this document")
        else:
            self.page_label.setToolTip("The page the search found")

    def _render_failed(self, error: TaskError) -> None:
        hit = self.hit
        if hit is not None and not os.path.exists(hit.path):
            # Gone since the search: not an error, the same as a hit found missing.
            self.file_absent.show_for(hit)
            self.canvas.set_absent(True)
            return
        # Said in the pane, not in a box: arrowing through results must not stack dialogs.
        self._error = error
        self.render_error.setText(
            f"This page could not be shown: {escape(error.message)} <a href='#'>Details…</a>"
        )
        self.render_error.show()
