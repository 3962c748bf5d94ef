"""The results area (offscreen, tiny model): cards that follow the library, what the results
say about themselves, how a card looks, grouping and sorting, the card menu and the size."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QContextMenuEvent, QFontMetrics, QPixmap, QWheelEvent
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from docretriever.library import Hit
from docretriever_ui.main_window import MainWindow
from docretriever_ui.results_cards import (
    HEADER,
    HIT_ROLE,
    KIND_ROLE,
    MORE,
    NAME_ROLE,
    PADDING,
    RELEVANCE_ROLE,
    TILE_ROLE,
    card_lines,
    thumbnail_size,
)
from docretriever_ui.results_grid import ResultsGrid
from docretriever_ui.results_order import NO_DOCUMENTS_HINT, SortOrder, summary
from docretriever_ui.results_pane import ResultsPane
from docretriever_ui.results_thumbnails import page_key, pixels_for
from docretriever_ui.session import LibrarySession
from docretriever_ui.settings import AppSettings

QUERY = "arabic lecture notes"
LONG_NAME = "Quarterly financial report of the regional planning office for fiscal year 2024 (final) v3.pdf"


@pytest.fixture()
def pane(indexed_session, qtbot) -> ResultsPane:
    pane = ResultsPane(indexed_session)
    qtbot.addWidget(pane)
    pane.resize(900, 700)
    pane.show()
    qtbot.waitUntil(lambda: pane.documents == 3, timeout=10_000)
    return pane


def search(pane: ResultsPane, qtbot, query: str = QUERY, k: int = 40) -> list[Hit]:
    """Search as the main window does: through the pane, showing the hits when they come."""
    delivered: list[list[Hit]] = []

    def show(hits: list[Hit]) -> None:
        delivered.append(hits)
        pane.grid.show_hits(hits)

    pane.search(query, k, show)
    qtbot.waitUntil(lambda: bool(delivered), timeout=30_000)
    return delivered[0]


def all_thumbnails(grid: ResultsGrid, qtbot) -> None:
    qtbot.waitUntil(lambda: grid.thumbnails_ready() == len(grid.hits), timeout=30_000)


def shown_texts(pane: ResultsPane) -> str:
    grid = pane.grid
    items = [grid.item(row) for row in range(grid.count())]
    texts = [f"{item.text()} {item.toolTip()} {item.data(NAME_ROLE)}" for item in items]
    return " ".join([*texts, pane.summary_label.text(), grid.empty_text, pane.summary()])


# --- the results follow the library -------------------------------------------------------------


def test_cards_of_a_removed_document_go_and_no_internal_id_is_shown(pane: ResultsPane, qtbot) -> None:
    session, grid = pane.session, pane.grid
    hits = search(pane, qtbot)
    assert len(hits) == 8  # every page of the three documents
    ids = {hit.doc_id for hit in hits}
    gone = max(ids, key=lambda doc_id: sum(hit.doc_id == doc_id for hit in hits))
    kept = [hit for hit in hits if hit.doc_id != gone]
    # A page that cannot be drawn: the core's message names the document by its id.
    other = grid.card(next(i for i, hit in enumerate(hits) if hit.doc_id != gone))
    assert other is not None
    grid.loader.failed.emit(page_key(kept[0]), f"No document in the library matches {gone}")
    assert "could not be shown" in other.toolTip()

    session.remove([gone])
    qtbot.waitUntil(lambda: len(grid.hits) == len(kept), timeout=10_000)
    assert [page_key(hit) for hit in grid.hits] == [page_key(hit) for hit in kept]
    assert grid.count() == len(kept) and grid.current_hit() == 0
    texts = shown_texts(pane)
    assert not any(doc_id in texts for doc_id in ids)


def test_a_finished_ingest_runs_the_shown_query_again(pane: ResultsPane, qtbot) -> None:
    grid = pane.grid
    search(pane, qtbot)
    grid.select_hit(3)
    selected = page_key(grid.hits[3])
    with qtbot.waitSignal(pane.session.ingest_finished, timeout=120_000):
        pane.session.add([str(corpus_or_skip(SAMPLES) / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf")])
    qtbot.waitUntil(lambda: len(grid.hits) == 12, timeout=30_000)  # the new file's 4 pages too
    assert {hit.query.text for hit in grid.hits} == {QUERY}
    assert any(Path(hit.path).name == "pdflatex-4-pages.pdf" for hit in grid.hits)
    assert page_key(grid.hits[grid.current_hit()]) == selected  # the page looked at stays current


def test_a_newer_search_on_its_way_is_not_dropped_by_a_refresh(pane: ResultsPane, qtbot) -> None:
    grid = pane.grid
    search(pane, qtbot)
    delivered: list[list[Hit]] = []
    pane.search("a table of figures", 40, lambda hits: (delivered.append(hits), grid.show_hits(hits)))
    pane.session.ingest_finished.emit(None)  # an ingest ends while that search is on its way
    qtbot.waitUntil(lambda: bool(delivered), timeout=30_000)
    assert pane.session.runner.wait(30_000)
    QApplication.processEvents()  # the refresh that followed it, if any
    assert len(delivered) == 1 and pane.query == "a table of figures"
    assert {hit.query.text for hit in grid.hits} == {"a table of figures"}


# --- what the results say -----------------------------------------------------------------------


def test_the_number_of_results_is_not_mistaken_for_a_count(pane: ResultsPane, qtbot) -> None:
    assert summary(40, True, "maps") == "Best 40 pages for “maps”"
    assert summary(6, False, "maps") == "6 pages found for “maps”"
    hits = search(pane, qtbot, k=3)
    assert pane.summary_label.text() == f"Best 3 pages for “{QUERY}”"
    assert pane.more_button.isVisible()
    qtbot.mouseClick(pane.more_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(pane.grid.hits) == 8, timeout=30_000)
    assert [page_key(hit) for hit in pane.grid.hits[:3]] == [page_key(hit) for hit in hits]
    assert pane.summary_label.text() == f"8 pages found for “{QUERY}”"
    assert not pane.more_button.isVisible()


def test_cards_show_relevance_not_the_raw_score(pane: ResultsPane, qtbot) -> None:
    hits = search(pane, qtbot)
    grid = pane.grid
    for index, hit in enumerate(hits):
        card = grid.card(index)
        assert card is not None
        assert f"{hit.score:.2f}" not in card.text() + card.toolTip()
        assert card.data(RELEVANCE_ROLE) == pytest.approx(hit.score / hits[0].score)
    assert grid.card(0).data(RELEVANCE_ROLE) == 1.0


def test_the_empty_hint_fits_the_library(pane: ResultsPane, tiny_embedder, qtbot, tmp_path: Path) -> None:
    assert pane.grid.empty_text.startswith("Your library holds 3 documents")
    assert "Drop PDF" not in pane.grid.empty_text
    settings = AppSettings(QSettings(str(tmp_path / "other.ini"), QSettings.Format.IniFormat))
    settings.library = str(tmp_path / "empty-library")
    session = LibrarySession(settings, embedder=tiny_embedder)  # a library with nothing in it
    try:
        empty = ResultsPane(session)
        qtbot.addWidget(empty)
        qtbot.waitUntil(lambda: empty.documents == 0, timeout=10_000)
        assert empty.grid.empty_text == NO_DOCUMENTS_HINT
        broken = tmp_path / "broken.pdf"
        broken.write_bytes(b"this is not a PDF")
        with qtbot.waitSignal(session.ingest_finished, timeout=60_000):
            session.add([str(broken)])  # a document that failed: listed, with no page to search
        qtbot.waitUntil(lambda: empty.documents == 1, timeout=10_000)
        assert search(empty, qtbot, "a map") == []
        assert empty.grid.empty_text == "No page matches “a map”: none of the 1 document is indexed yet."
        assert empty.summary() == "No page matches “a map”: no document is indexed yet."
    finally:
        session.close()


# --- how a card looks ---------------------------------------------------------------------------


def test_a_long_name_is_elided_in_the_middle_and_the_page_stays_whole(qtbot) -> None:
    metrics = QFontMetrics(QApplication.font())
    width = thumbnail_size(180).width()
    name, page, bar_fits = card_lines(LONG_NAME, "p. 117", metrics, width)
    assert name != LONG_NAME and "…" in name
    assert name.startswith("Quarterly") and name.endswith(".pdf")
    assert metrics.horizontalAdvance(name) <= width
    assert page == "p. 117" and bar_fits
    narrow = card_lines(LONG_NAME, "p. 92 (95/117)", metrics, 100)
    assert narrow[1] == "p. 92 (95/117)"  # whole, the bar gives way if need be


def test_a_long_name_on_a_card_leaves_its_page_visible(pane: ResultsPane, qtbot, tmp_path: Path) -> None:
    long = tmp_path / LONG_NAME
    shutil.copy(corpus_or_skip(SAMPLES) / "001-trivial" / "minimal-document.pdf", long)
    with qtbot.waitSignal(pane.session.ingest_finished, timeout=60_000):
        pane.session.add([str(long)])
    search(pane, qtbot)
    grid = pane.grid
    index = next(i for i, hit in enumerate(grid.hits) if Path(hit.path).name == LONG_NAME)
    card = grid.card(index)
    assert card is not None
    option = QStyleOptionViewItem()
    option.font = grid.font()
    size = grid.delegate.sizeHint(option, grid.indexFromItem(card))
    metrics = QFontMetrics(grid.font())
    name, page, _ = card_lines(LONG_NAME, "p. 1", metrics, size.width() - 2 * PADDING)
    assert "…" in name and page == "p. 1" and card.text().endswith("\np. 1")


def test_thumbnails_are_drawn_at_the_screens_pixel_density(pane: ResultsPane, qtbot, monkeypatch) -> None:
    grid = pane.grid
    asked: list[int] = []
    render_hit = pane.session.render_hit
    monkeypatch.setattr(grid, "devicePixelRatioF", lambda: 2.0)  # a 2x (HiDPI) screen
    monkeypatch.setattr(
        pane.session,
        "render_hit",
        lambda hit, pixels, **kw: (asked.append(pixels), render_hit(hit, pixels, **kw))[1],
    )
    search(pane, qtbot)
    all_thumbnails(grid, qtbot)
    size = thumbnail_size(grid.thumbnail_width)
    assert set(asked) == {math.ceil(size.width() * size.height() * 4)}
    tile = grid.card(0).data(TILE_ROLE)
    assert isinstance(tile, QPixmap)
    assert tile.devicePixelRatio() == 2.0 and tile.size() == size * 2  # 1:1 on the screen, not stretched


def test_a_selected_card_is_framed_and_its_page_is_not_tinted(pane: ResultsPane, qtbot) -> None:
    grid = pane.grid
    search(pane, qtbot)
    all_thumbnails(grid, qtbot)
    card = grid.card(0)
    assert card is not None
    rect = grid.visualItemRect(card)
    thumb = thumbnail_size(grid.thumbnail_width)
    grid.setCurrentItem(card)
    assert card.isSelected()
    selected = grid.viewport().grab(rect).toImage()
    grid.setCurrentItem(grid.card(1))
    assert not card.isSelected()
    plain = grid.viewport().grab(rect).toImage()
    inside = selected.copy(PADDING, PADDING, thumb.width(), thumb.height())
    assert inside == plain.copy(PADDING, PADDING, thumb.width(), thumb.height())  # the page as it is
    highlight = grid.palette().color(grid.palette().ColorRole.Highlight)
    edge = QPoint(1, rect.height() // 2)
    assert selected.pixelColor(edge) == highlight and plain.pixelColor(edge) != highlight


# --- grouping and order -------------------------------------------------------------------------


def kinds(grid: ResultsGrid) -> list[tuple[int, str, bool]]:
    return [
        (grid.item(row).data(KIND_ROLE), grid.item(row).text(), grid.isRowHidden(row))
        for row in range(grid.count())
    ]


def click(grid: ResultsGrid, item, qtbot) -> None:
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.visualItemRect(item).center())


def test_results_grouped_by_document_fold_and_show_more(pane: ResultsPane, qtbot) -> None:
    grid = pane.grid
    hits = search(pane, qtbot)
    pane.group_box.setChecked(True)
    headers = [text for kind, text, _ in kinds(grid) if kind == HEADER]
    counts = {Path(hit.path).name: sum(h.doc_id == hit.doc_id for h in hits) for hit in hits}
    assert sorted(headers) == sorted(f"{name} — {n} page{'s' if n > 1 else ''}" for name, n in counts.items())
    big = next(name for name, n in counts.items() if n == 4)  # habibi-rotated.pdf: one page past three
    more = next(grid.item(row) for row in range(grid.count()) if grid.item(row).data(KIND_ROLE) == MORE)
    fourth = [i for i, hit in enumerate(hits) if Path(hit.path).name == big][3]
    assert grid.isRowHidden(grid.row(grid.card(fourth)))
    click(grid, more, qtbot)
    assert not grid.isRowHidden(grid.row(grid.card(fourth)))
    header = next(grid.item(row) for row in range(grid.count()) if grid.item(row).text().startswith(big))
    click(grid, header, qtbot)
    assert all(
        grid.isRowHidden(grid.row(grid.card(i))) for i, hit in enumerate(hits) if Path(hit.path).name == big
    )
    grid.select_hit(fourth)  # the viewer walking to it opens its group
    assert grid.current_hit() == fourth and not grid.isRowHidden(grid.row(grid.card(fourth)))
    with qtbot.waitSignal(grid.hit_activated) as activated:
        qtbot.keyClick(grid, Qt.Key.Key_Return)
    assert activated.args == [fourth]


def test_sorting_by_name_and_by_date_added(pane: ResultsPane, qtbot) -> None:
    grid = pane.grid
    hits = search(pane, qtbot)
    pane.sort_combo.setCurrentIndex(pane.sort_combo.findData(SortOrder.NAME))
    shown = [hits[grid.item(row).data(HIT_ROLE)] for row in range(grid.count())]
    assert [(Path(h.path).name, h.page) for h in shown] == sorted((Path(h.path).name, h.page) for h in hits)
    newest = hits[-1].doc_id
    grid.added_at = {hit.doc_id: (2e9 if hit.doc_id == newest else 1e9) for hit in hits}
    pane.sort_combo.setCurrentIndex(pane.sort_combo.findData(SortOrder.DATE_ADDED))
    first = {
        hits[grid.item(row).data(HIT_ROLE)].doc_id for row in range(sum(h.doc_id == newest for h in hits))
    }
    assert first == {newest}


def test_the_viewer_walks_results_by_relevance_whatever_the_order_shown(indexed_session, qtbot) -> None:
    window = MainWindow(indexed_session)
    qtbot.addWidget(window)
    window.show()
    window.search_box.setText(QUERY)
    window.run_search()
    qtbot.waitUntil(lambda: len(window.results.hits) == 8, timeout=30_000)
    assert "8 pages found" in window.statusBar().currentMessage()
    window.results_pane.group_box.setChecked(True)
    window.results_pane.sort_combo.setCurrentIndex(window.results_pane.sort_combo.findData(SortOrder.NAME))
    window.results.select_hit(2)
    qtbot.keyClick(window.results, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.viewer is not None and window.viewer.isVisible(), timeout=10_000)
    viewer = window.viewer
    assert viewer is not None and viewer.current_index == 2
    viewer.show_next()
    assert window.results.current_hit() == 3
    viewer.close()


# --- the card menu ------------------------------------------------------------------------------


def actions(menu) -> dict[str, object]:
    return {action.text(): action for action in menu.actions() if action.text()}


def test_the_card_menu_opens_reveals_copies_and_shows_in_library(pane: ResultsPane, qtbot) -> None:
    grid = pane.grid
    hits = search(pane, qtbot)
    hit = hits[2]
    menu = actions(grid.context_menu(grid.card(2)))
    with qtbot.waitSignal(grid.open_requested) as opened:
        menu["Open in PDF viewer at this page"].trigger()
    assert opened.args == [hit.path, hit.page]
    with qtbot.waitSignal(grid.reveal_requested) as revealed:
        menu["Reveal in file manager"].trigger()
    assert revealed.args == [hit.path]
    menu["Copy path"].trigger()
    assert QApplication.clipboard().text() == hit.path
    with qtbot.waitSignal(grid.show_in_library_requested) as shown:
        menu["Show in library"].trigger()
    assert shown.args == [hit.doc_id]
    with qtbot.waitSignal(grid.hit_activated) as activated:
        menu["Open"].trigger()
    assert activated.args == [2]

    grid.show_hits([dataclasses.replace(hit, missing=True), *hits[:2]])
    menu = actions(grid.context_menu(grid.card(0)))
    assert not menu["Open in PDF viewer at this page"].isEnabled()
    assert not menu["Reveal in file manager"].isEnabled()
    assert any(text.startswith("File missing: last seen at") for text in menu)


def test_the_menu_key_opens_the_menu_of_the_current_card(pane: ResultsPane, qtbot, monkeypatch) -> None:
    grid = pane.grid
    search(pane, qtbot)
    asked: list[int] = []
    monkeypatch.setattr(grid, "context_menu", lambda item: asked.append(item.data(HIT_ROLE)) or _Menu())
    grid.select_hit(5)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Keyboard, QPoint(1, 1), grid.mapToGlobal(QPoint(1, 1)))
    QApplication.sendEvent(grid.viewport(), event)
    assert asked == [5]


class _Menu:
    def popup(self, position: QPoint) -> None:
        pass


def test_the_main_window_wires_the_card_menu(indexed_session, qtbot, monkeypatch) -> None:
    opened: list[tuple] = []
    monkeypatch.setattr("docretriever_ui.system.open_in_pdf_viewer", lambda *args: opened.append(args))
    window = MainWindow(indexed_session)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.library_pane.tree.topLevelItemCount() == 3, timeout=10_000)
    window.results.open_requested.emit("/papers/a.pdf", 7)
    assert opened == [("/papers/a.pdf", 7)]
    doc_id = indexed_session.documents()[1].doc_id
    window.results.show_in_library_requested.emit(doc_id)
    assert window.library_pane.selected_doc_ids() == [doc_id]


# --- the size of the cards ----------------------------------------------------------------------


def test_the_size_follows_the_slider_and_ctrl_wheel_and_is_remembered(pane: ResultsPane, qtbot) -> None:
    grid, settings = pane.grid, pane.session.settings
    search(pane, qtbot)
    all_thumbnails(grid, qtbot)
    pane.size_slider.setValue(240)
    assert grid.thumbnail_width == 240 and settings.result_thumbnail_width == 240
    assert grid.visualItemRect(grid.card(0)).width() == 240 + 2 * PADDING
    wheel = QWheelEvent(
        QPointF(20, 20),
        QPointF(grid.viewport().mapToGlobal(QPoint(20, 20))),
        QPoint(),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(grid.viewport(), wheel)
    assert grid.thumbnail_width == 260 and pane.size_slider.value() == 260
    assert settings.result_thumbnail_width == 260
    # Bigger cards get sharper pages once the size settles.
    wanted = pixels_for(thumbnail_size(260), grid.devicePixelRatioF())
    key = page_key(grid.hits[0])
    qtbot.waitUntil(lambda: grid.loader._images[key][1] == wanted, timeout=30_000)

    again = AppSettings(QSettings(settings.store.fileName(), QSettings.Format.IniFormat))
    assert again.result_thumbnail_width == 260
    later = ResultsPane(pane.session)
    qtbot.addWidget(later)
    assert later.grid.thumbnail_width == 260 and later.size_slider.value() == 260
