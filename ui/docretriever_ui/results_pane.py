"""The results area: a bar that says what the results are, with their order, grouping and card
size; the grid of cards; and "Show more results" when the search stopped at its number.

The pane runs the searches whose results it shows (the main window asks it as it would ask the
session), so that the results stay true to the library:

- cards of documents no longer in the library are dropped as soon as the library says it
  changed (``LibrarySession.documents_changed``): opening one found nothing, and said so with
  an internal id;
- when an add, sync or re-index ends (``LibrarySession.ingest_finished``) the query is run
  again, quietly (no status line, the focus left where it is, the current page and scroll
  position kept), unless a newer search is on its way: then again once that one is back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from docretriever.library import Hit
from docretriever.vocabulary import Document
from docretriever_ui.like_search import like_summary
from docretriever_ui.results_cards import MAX_THUMBNAIL_WIDTH, MIN_THUMBNAIL_WIDTH, THUMBNAIL_STEP
from docretriever_ui.results_grid import ResultsGrid
from docretriever_ui.results_order import SortOrder, empty_hint, summary
from docretriever_ui.results_snippets import SnippetLoader
from docretriever_ui.session import LibrarySession
from docretriever_ui.tasks import TaskError, TaskHandle

MORE_RESULTS = 40  # "Show more results" asks for this many more pages
# Library changes come up to ten times a second during an ingest: looked at once per this many ms.
DOCUMENTS_CHECK_MS = 300


class ElidedLabel(QLabel):
    """A one-line label that gives way to the controls beside it: its text is elided at the end
    when narrow (whole in its tooltip), rather than cut off mid-letter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(60)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.width())
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        painter.end()


class ResultsPane(QWidget):
    """The bar, ``grid`` (a :class:`ResultsGrid`) and "Show more results"; see the module
    docstring. :meth:`search` is ``LibrarySession.search`` that remembers the query. Search
    through it: the session delivers only its newest search, so a search made past the pane
    would drop the pane's own, and the pane would wait for it until the next search."""

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.grid = ResultsGrid(session, self)
        self.snippets = SnippetLoader(session, self.grid)  # the cards' text, read after they are shown
        self.query: str | None = None  # the query whose results are shown
        self.like = False  # they are the pages like a page, ``query`` naming it
        self.k = 0  # how many pages that search asked for
        self.capped = False  # it got as many as it asked for: there are more behind them
        self.documents: int | None = None  # in the library, at the last look
        self.indexed = False  # some document has been indexed
        self._asked: tuple[str, int, dict[str, Any]] | None = None  # the newest search asked
        self._waiting: TaskHandle | None = None  # a search of ours on its way
        self._refresh_wanted = False
        # Orders searches and looks at the library: a look that began before the search whose
        # results are shown cannot tell that their documents are gone (they may be newer).
        self._clock = 0
        self._shown_since = 0
        self._newest_look = 0

        self.summary_label = ElidedLabel(self)
        self.sort_combo = QComboBox(self)
        for order in SortOrder:
            self.sort_combo.addItem(order.value, order)
        self.sort_combo.setToolTip("The order of the results")
        self.group_box = QCheckBox("Group by document", self)
        self.size_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.size_slider.setRange(MIN_THUMBNAIL_WIDTH, MAX_THUMBNAIL_WIDTH)
        self.size_slider.setSingleStep(THUMBNAIL_STEP)
        self.size_slider.setPageStep(2 * THUMBNAIL_STEP)
        self.size_slider.setMaximumWidth(120)
        self.size_slider.setToolTip("Size of the pages (Ctrl+wheel over the results)")
        self.more_button = QPushButton(f"Show {MORE_RESULTS} more results", self)
        self.more_button.hide()

        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(self.summary_label, 1)
        sort_label = QLabel("Sort by", self)
        sort_label.setBuddy(self.sort_combo)
        for widget in (sort_label, self.sort_combo, self.group_box, QLabel("Size", self), self.size_slider):
            bar.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.more_button)

        self._look_timer = QTimer(self, singleShot=True, interval=DOCUMENTS_CHECK_MS)
        self._look_timer.timeout.connect(self.look_at_library)
        self._connect()
        width = session.settings.result_thumbnail_width
        self.grid.set_thumbnail_width(width)
        self.size_slider.setValue(self.grid.thumbnail_width)
        self.look_at_library()
        self._update_texts()

    def _connect(self) -> None:
        self.sort_combo.currentIndexChanged.connect(
            lambda: self.grid.set_order(self.sort_combo.currentData())
        )
        self.group_box.toggled.connect(self.grid.set_grouped)
        self.size_slider.valueChanged.connect(self.grid.set_thumbnail_width)
        self.grid.thumbnail_width_changed.connect(self._thumbnail_width_changed)
        self.grid.hits_changed.connect(self._update_texts)
        self.grid.thumbnail_failed.connect(self._library_changed)  # its document may be gone
        self.more_button.clicked.connect(self.show_more)
        self.session.documents_changed.connect(self._library_changed)
        self.session.ingest_finished.connect(self._ingest_finished)

    # --- searching ----------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int,
        on_done: Callable[[list[Hit]], None],
        on_error: Callable[[TaskError], None] | None = None,
        **options: Any,
    ) -> TaskHandle:
        """Search as ``LibrarySession.search`` does (``options`` go to it as they are), and
        remember the query, to run it again when the library changes."""
        self._asked = (query, k, options)
        self._refresh_wanted = False  # this search sees the library as it is now
        started = self._tick()

        def done(hits: list[Hit]) -> None:
            if shiboken6.isValid(self):  # not closed while the search ran
                self._shown(query, k, hits, started)
                on_done(hits)  # the main window shows them (status line, focus)
                self._search_back()

        def failed(error: TaskError) -> None:
            if shiboken6.isValid(self):
                (on_error or self.session.failed.emit)(error)
                self._search_back()

        self._waiting = self.session.search(query, k, done, failed, **options)
        return self._waiting

    def refresh(self) -> None:
        """Run the newest query again, quietly; after the search on its way, if there is one."""
        if self._asked is None:
            return
        # Only our own callbacks say a search is back: a handle that has finished may still
        # have its results on their way, and a search started now would drop them.
        if self._waiting is not None:
            self._refresh_wanted = True
            return
        self._search_again(self._asked[1])

    def show_more(self) -> None:
        """Ask for ``MORE_RESULTS`` more pages of the query shown."""
        if self._asked is not None and self.query is not None:
            self.more_button.setEnabled(False)
            self._search_again(max(self.k, len(self.grid.hits)) + MORE_RESULTS)

    def _search_again(self, k: int) -> None:
        assert self._asked is not None
        query, _, options = self._asked
        self._asked = (query, k, options)
        started = self._tick()

        def done(hits: list[Hit]) -> None:
            if shiboken6.isValid(self):
                self._shown(query, k, hits, started)
                self.grid.show_hits(hits, keep_view=True)
                self._search_back()

        def failed(error: TaskError) -> None:
            if shiboken6.isValid(self):
                self._search_back()  # the results shown stay; the next change tries again

        self._waiting = self.session.search(query, k, done, failed, **options)

    def _shown(self, query: str, k: int, hits: list[Hit], started: int) -> None:
        self.query, self.k, self.capped = query, k, len(hits) >= k
        # Pages like a page (like_search.py): the header names that page, not a query. Only the
        # newest search's results arrive, so what was asked last is what is shown.
        self.like = self._asked is not None and self._asked[2].get("like") is not None
        self._shown_since = started

    def _search_back(self) -> None:
        self._waiting = None
        self.more_button.setEnabled(True)
        if self._refresh_wanted:
            self._refresh_wanted = False
            self.refresh()

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    # --- following the library ----------------------------------------------------------------

    def _library_changed(self) -> None:
        # A throttle, not a debounce: restarting the timer at each change would put the look off
        # until an ingest ends.
        if not self._look_timer.isActive():
            self._look_timer.start()

    def _ingest_finished(self, outcome: object) -> None:
        del outcome  # added, cancelled or failed: whatever was indexed is searchable now
        if not self.session.ingesting:  # the last of those queued
            self.refresh()

    def look_at_library(self) -> None:
        """Read the library's documents in the background; then drop the cards of documents no
        longer there and say in the hints how many there are."""
        started = self._tick()
        self.session.read_documents(  # a person may be looking at a card that can no longer be opened
            lambda documents: self._looked(documents, started),
            lambda error: None,  # the library pane reports a library that cannot be read
        )

    def _looked(self, documents: list[Document], started: int) -> None:
        if not shiboken6.isValid(self):
            return  # closed while the library was read
        if started < self._newest_look:
            return  # a newer look came back first
        self._newest_look = started
        self.documents = len(documents)
        self.indexed = any(document.status == "indexed" for document in documents)
        self.grid.added_at = {document.doc_id: document.added_at for document in documents}
        if started > self._shown_since:
            self.grid.keep_documents({document.doc_id for document in documents})
        self._update_texts()

    # --- what the pane says -------------------------------------------------------------------

    def summary(self) -> str:
        """What the results are, for the status line: "Best 40 pages for …", "6 pages found…",
        or why there are none."""
        if self.query is None:
            return ""
        if self.like:
            return like_summary(len(self.grid.hits), self.capped, self.query)
        return summary(len(self.grid.hits), self.capped, self.query, self.documents, self.indexed)

    def _update_texts(self) -> None:
        self.summary_label.setText(self.summary())
        self.summary_label.setToolTip(self.summary())
        self.more_button.setVisible(self.capped and bool(self.grid.hits))
        hint = empty_hint(self.documents, self.query, self.indexed)
        self.grid.empty_text = self.summary() if self.like and self.documents else hint
        self.grid.viewport().update()

    def _thumbnail_width_changed(self, width: int) -> None:
        self.size_slider.setValue(width)  # Ctrl+wheel over the grid moves the slider too
        self.session.settings.result_thumbnail_width = width
