"""The result cards' snippets: the words of each hit's page under its best match, read in the
background after the cards are shown (the results never wait for them), a few hits at a time
in the order found, and put on the cards as they arrive (a line under the page, elided; whole
in the card's tooltip).

Pages without a text layer (scans) have no snippet: nothing is shown and no OCR is run.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Signal

from docretriever.library import Hit
from docretriever_ui import results_cards as cards
from docretriever_ui.results_grid import ResultsGrid
from docretriever_ui.session import LibrarySession
from docretriever_ui.tasks import TaskError, TaskHandle

# Hits whose snippets are read together: the first cards fill in without waiting for the last.
BATCH = 8

SnippetKey = tuple[str, int, str]  # (doc id, page, query): a hit's best match depends on its query


def snippet_key(hit: Hit) -> SnippetKey:
    """What a snippet is kept under: the same page found by another query has another one."""
    return hit.doc_id, hit.page, hit.query.text


class SnippetLoader(QObject):
    """Reads the snippets of ``grid``'s hits whenever they change (``session.library.snippets``
    on the reader pool) and sets them on the cards (``SNIPPET_ROLE`` and the tooltip), also on
    cards made again later (another order, grouped). ``arrived`` says a batch was set."""

    arrived = Signal()

    def __init__(self, session: LibrarySession, grid: ResultsGrid) -> None:
        super().__init__(grid)
        self.session = session
        self.grid = grid
        self.snippets: dict[SnippetKey, str | None] = {}
        self._reads: list[TaskHandle] = []
        grid.hits_changed.connect(self.start)
        # Cards are made again when the order or grouping changes: they get their snippet back.
        grid.model().rowsInserted.connect(self._cards_added)

    def start(self) -> None:
        """Read the snippets of the grid's hits not known yet (a refresh keeps those known)."""
        for handle in self._reads:
            handle.cancel()
        self._reads.clear()
        hits = list(self.grid.hits)
        queries = {hit.query.text for hit in hits}
        self.snippets = {key: text for key, text in self.snippets.items() if key[2] in queries}
        wanted = [hit for hit in hits if snippet_key(hit) not in self.snippets and not hit.missing]
        for start in range(0, len(wanted), BATCH):
            self._read(wanted[start : start + BATCH])
        self._show(range(self.grid.count()))

    def _read(self, hits: list[Hit]) -> None:
        handles: list[TaskHandle] = []

        def done(snippets: list[str | None]) -> None:
            if not shiboken6.isValid(self) or not handles or handles[0] not in self._reads:
                return  # the grid was closed, or shows other hits now
            self._reads.remove(handles[0])
            self.snippets.update((snippet_key(hit), text) for hit, text in zip(hits, snippets, strict=True))
            self._show(range(self.grid.count()))
            self.arrived.emit()

        def fail(error: TaskError) -> None:
            # Snippets never raise (the library logs why one is missing); a cancelled read is
            # one for hits no longer shown. Either way the cards stay as they are.
            if shiboken6.isValid(self) and handles and handles[0] in self._reads:
                self._reads.remove(handles[0])

        session = self.session  # its library is opened (if need be) on the reader thread, not here
        handles.append(
            session.runner.read(
                lambda progress, cancel: session.library.snippets(hits), on_done=done, on_error=fail
            )
        )
        self._reads.append(handles[0])

    def _cards_added(self, parent: QModelIndex | QPersistentModelIndex, first: int, last: int) -> None:
        del parent
        self._show(range(first, last + 1))

    def _show(self, rows: range) -> None:
        for row in rows:
            item = self.grid.item(row)
            index = item.data(cards.HIT_ROLE) if item is not None else None
            if index is None or item.data(cards.KIND_ROLE) != cards.CARD or item.data(cards.SNIPPET_ROLE):
                continue
            text = self.snippets.get(snippet_key(self.grid.hits[index]))
            if text:
                item.setData(cards.SNIPPET_ROLE, text)
                item.setToolTip(f"{item.toolTip()}\n“{text}”")

    def pending(self) -> int:
        """How many reads are under way (for tests)."""
        return len(self._reads)
