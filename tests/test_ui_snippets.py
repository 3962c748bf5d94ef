"""The result cards' snippets (offscreen, tiny model): the cards come first, the page's words
follow from the reader pool, drawn under the page and whole in the tooltip; none for a picture."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from snippet_pdf import make_pdf

from docretriever.library import Hit
from docretriever_ui.results_cards import HIT_ROLE, SNIPPET_ROLE, thumbnail_size
from docretriever_ui.results_order import SortOrder
from docretriever_ui.results_pane import ResultsPane


@pytest.fixture()
def pane(ui_session, qtbot, tmp_path: Path) -> ResultsPane:
    make_pdf(tmp_path / "grid.pdf")
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=120_000):
        ui_session.add([str(tmp_path / "grid.pdf")])
    pane = ResultsPane(ui_session)
    qtbot.addWidget(pane)
    pane.resize(900, 700)
    pane.show()
    qtbot.waitExposed(pane)
    return pane


def _snippets_by_page(pane: ResultsPane) -> dict[int, object]:
    grid = pane.grid
    shown = {}
    for index, hit in enumerate(grid.hits):
        card = grid.card(index)
        assert card is not None and card.data(HIT_ROLE) == index
        shown[hit.page] = card.data(SNIPPET_ROLE)
    return shown


def _snippet_line(pane: ResultsPane, index: int):
    """The pixels of a card's snippet line (under the name and page lines)."""
    grid = pane.grid
    card = grid.card(index)
    rect = grid.visualItemRect(card)
    thumb = thumbnail_size(grid.thumbnail_width)
    line = grid.fontMetrics().height()
    top = rect.top() + thumb.height() + 2 * line + 12
    return grid.viewport().grab(QRect(rect.left(), top, rect.width(), line + 4)).toImage()


def test_cards_show_first_and_their_snippets_follow_from_the_reader_pool(
    pane: ResultsPane, qtbot, monkeypatch
) -> None:
    library = pane.session.library
    read = library.snippets
    gate = threading.Event()
    threads: list[str] = []

    def held(hits: list[Hit], *args: object) -> list[str | None]:
        threads.append(threading.current_thread().name)
        assert gate.wait(timeout=30)
        return read(hits, *args)

    monkeypatch.setattr(library, "snippets", held)
    delivered: list[list[Hit]] = []
    pane.search("words in a grid", 3, lambda hits: (delivered.append(hits), pane.grid.show_hits(hits)))
    qtbot.waitUntil(lambda: bool(delivered) and pane.snippets.pending() > 0, timeout=30_000)
    # The cards are there while the snippets are still being read: nothing waits for them.
    assert sorted(hit.page for hit in pane.grid.hits) == [1, 2, 3]
    assert set(_snippets_by_page(pane).values()) == {None}
    index = next(i for i, hit in enumerate(pane.grid.hits) if hit.page == 1)
    before = _snippet_line(pane, index)

    with qtbot.waitSignal(pane.snippets.arrived, timeout=30_000):
        gate.set()
    assert threads and threading.main_thread().name not in threads  # read off the UI thread
    shown = _snippets_by_page(pane)
    assert shown[3] is None  # a picture of text: no text layer, and no OCR
    for page, prefix in ((1, "a"), (2, "b")):
        text = shown[page]
        assert isinstance(text, str) and text.split()[0].startswith(prefix)
        card = pane.grid.card(next(i for i, hit in enumerate(pane.grid.hits) if hit.page == page))
        assert text in card.toolTip()  # the whole snippet; the card shows it elided
    qtbot.waitUntil(lambda: _snippet_line(pane, index) != before, timeout=5_000)  # drawn on the card

    # Cards made again (another order) keep their snippets, without reading them again.
    threads.clear()
    pane.grid.set_order(SortOrder.NAME)
    assert _snippets_by_page(pane) == shown and threads == []
