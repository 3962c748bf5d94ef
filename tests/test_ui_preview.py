"""The preview pane beside the results, the full viewer that no longer blocks the main window,
printed page numbers in the GUI, and searching within some documents (offscreen)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip
from PySide6.QtWidgets import QApplication
from test_page_labels import LABELS, labelled_pdf

from docretriever_ui.error_dialog import ErrorDialog
from docretriever_ui.main_window import MainWindow
from docretriever_ui.preview_pane import PLACEHOLDER
from docretriever_ui.preview_scope import scope_text
from docretriever_ui.session import LibrarySession
from docretriever_ui.tasks import TaskError
from docretriever_ui.viewer import PageViewer

QUERY = "the history of bridges"


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    """book.pdf (5 pages numbered i, ii, 1, 2, 3) and pdfkit.pdf (no labels)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    labelled_pdf(folder / "book.pdf")
    shutil.copy(corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf", folder)
    return folder


@pytest.fixture()
def window(ui_session: LibrarySession, docs: Path, qtbot):
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=120_000):
        ui_session.add([str(docs)])
    main = MainWindow(ui_session)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    with qtbot.waitSignal(main.library_refresh.refreshed, timeout=10_000):  # read in the background
        main.refresh_documents()
    return main


def search(window: MainWindow, qtbot, query: str = QUERY) -> list:
    shown = window.results.hits
    window.search_box.setText(query)
    window.run_search()
    qtbot.waitUntil(lambda: window.results.hits is not shown and bool(window.results.hits), timeout=30_000)
    return window.results.hits


def doc_id_of(window: MainWindow, name: str) -> str:
    return next(d.doc_id for d in window.session.documents() if d.paths[0].endswith(name))


def test_selecting_a_result_shows_its_page_with_highlights_beside_the_results(window, qtbot) -> None:
    preview = window.preview
    assert window.splitter.indexOf(preview) == 2 and preview.width() > 200
    assert preview.placeholder.isVisible() and preview.placeholder.text() == PLACEHOLDER
    hits = search(window, qtbot)
    qtbot.waitUntil(lambda: preview.hit is hits[window.results.current_hit()], timeout=10_000)
    qtbot.waitUntil(lambda: preview.canvas.has_image, timeout=30_000)
    assert preview.canvas.overlay.isVisible() and not preview.placeholder.isVisible()
    assert len(preview.canvas.overlay.boxes) == len(preview.hit.regions())
    window.results.select_hit(2)
    assert preview.index == 2 and preview.canvas.page_key == (hits[2].doc_id, hits[2].page)
    qtbot.waitUntil(lambda: preview.canvas.has_image, timeout=30_000)
    # Its own Previous/Next result move the selection in the grid.
    preview.next_result_action.trigger()
    assert preview.index == 3 and window.results.current_hit() == 3
    preview.previous_result_action.trigger()
    assert window.results.current_hit() == 2
    with qtbot.waitSignal(preview.open_requested):
        preview.open_action.trigger()
    qtbot.waitUntil(lambda: window.viewer is not None and window.viewer.current_index == 2, timeout=5_000)
    window.viewer.close()


def test_the_full_viewer_does_not_block_the_search_box(window, qtbot) -> None:
    hits = search(window, qtbot)
    window.results.hit_activated.emit(0)  # Enter or a double-click on a result
    viewer = window.viewer
    assert isinstance(viewer, PageViewer)
    qtbot.waitExposed(viewer)
    assert not viewer.isModal() and QApplication.activeModalWidget() is None
    assert window.search_box.isEnabled() and window.isEnabled()
    # A refined query while the viewer stays open.
    again = search(window, qtbot, "pdfkit")
    assert again is not hits and viewer.isVisible()
    # The viewer walks its own results now; it no longer moves the new ones.
    window.results.select_hit(0)
    viewer.show_next()
    assert window.results.current_hit() == 0
    viewer.close()


def test_the_preview_leafs_through_the_document_without_highlights_and_names_printed_pages(
    window, qtbot
) -> None:
    hits = search(window, qtbot)
    index = next(i for i, h in enumerate(hits) if h.path.endswith("book.pdf") and h.page == 3)
    preview = window.preview
    window.results.select_hit(index)
    assert preview.page_label.text() == "p. 1 (3/5)" and "book.pdf" in preview.title.text()
    qtbot.waitUntil(preview.next_page_action.isEnabled, timeout=10_000)  # the pages are read
    assert not preview.matched_page_button.isVisible()

    preview.next_page_action.trigger()
    assert preview.page == 4 and preview.page_label.text() == "p. 2 (4/5)"
    assert not preview.canvas.overlay.isVisible(), "the search scored only the page it found"
    assert preview.canvas.page_key == (hits[index].doc_id, 4)
    qtbot.waitUntil(lambda: preview.canvas.has_image, timeout=30_000)
    assert preview.matched_page_button.isVisible() and "p. 1 (3/5)" in preview.matched_page_action.text()
    preview.next_page_action.trigger()
    assert preview.page == 5 and not preview.next_page_action.isEnabled()
    for _ in range(4):
        preview.previous_page_action.trigger()
    assert preview.page == 1 and preview.page_label.text() == "p. i (1/5)"
    assert not preview.previous_page_action.isEnabled()
    preview.matched_page_action.trigger()
    assert preview.page == 3 and preview.canvas.overlay.isVisible()
    assert not preview.matched_page_button.isVisible()
    # Another result while away from the page found: its own page, and no way "back" shown.
    preview.next_page_action.trigger()
    window.results.select_hit(next(i for i, h in enumerate(hits) if i != index))
    assert preview.page == preview.hit.page and not preview.matched_page_button.isVisible()

    window.open_viewer(index)
    assert "page 1 (3/5)" in window.viewer.title.text()
    assert window.viewer.windowTitle().endswith("page 1 (3/5)")
    window.viewer.close()
    labels = {h.page: h.page_label for h in hits if h.path.endswith("book.pdf")}
    assert labels == dict(enumerate(LABELS, start=1))


def test_a_page_that_cannot_be_drawn_is_said_in_the_pane_not_in_a_box(window, qtbot, monkeypatch) -> None:
    search(window, qtbot)

    def failing_render(doc_id, page, max_pixels, on_done, on_error=None):
        on_error(TaskError("The page is damaged.", "Traceback: the details"))

    monkeypatch.setattr(window.session, "render_page", failing_render)
    preview = window.preview
    window.results.select_hit(1)
    qtbot.waitUntil(preview.render_error.isVisible, timeout=5_000)
    assert "The page is damaged." in preview.render_error.text()
    assert not window.findChildren(ErrorDialog), "arrowing through results must not pile up boxes"
    preview.render_error.linkActivated.emit("#")
    (box,) = [d for d in window.findChildren(ErrorDialog) if d.isVisible()]
    assert box.error.details == "Traceback: the details"
    box.close()


def test_searching_within_documents_shows_a_chip_and_finds_only_their_pages(window, qtbot) -> None:
    everything = search(window, qtbot)
    assert {Path(h.path).name for h in everything} == {"book.pdf", "pdfkit.pdf"}
    chip = window.scope_chip
    assert not chip.isVisible()
    book = doc_id_of(window, "book.pdf")
    shown = window.results.hits
    window.search_within([book])  # the library pane's "Search in selected documents"
    assert chip.isVisible() and chip.label.text() == "Searching in book.pdf" and book not in chip.label.text()
    qtbot.waitUntil(lambda: window.results.hits is not shown, timeout=30_000)  # the query, again
    assert {Path(h.path).name for h in window.results.hits} == {"book.pdf"}
    assert len(window.results.hits) == len(LABELS)
    # Every later search stays within them, until the chip's ✕.
    scoped = search(window, qtbot, "pdfkit")
    assert {Path(h.path).name for h in scoped} == {"book.pdf"}
    shown = window.results.hits
    chip.clear_button.click()
    assert not chip.isVisible() and chip.within is None
    qtbot.waitUntil(lambda: window.results.hits is not shown, timeout=30_000)
    assert {Path(h.path).name for h in window.results.hits} == {"book.pdf", "pdfkit.pdf"}

    window.search_within([book, doc_id_of(window, "pdfkit.pdf")], "the folder docs")
    assert chip.label.text() == "Searching in the folder docs" and "pdfkit.pdf" in chip.toolTip()
    assert scope_text(["a.pdf", "b.pdf", "c.pdf"]) == "Searching in 3 documents"


def test_the_session_searches_within_documents(window, qtbot) -> None:
    results: list = []
    book = doc_id_of(window, "book.pdf")
    window.session.search(QUERY, 50, results.append, within=[book])
    qtbot.waitUntil(lambda: bool(results), timeout=30_000)
    assert {hit.doc_id for hit in results[0]} == {book}


def test_the_three_panes_are_remembered_and_an_older_layout_does_not_hide_the_preview(
    ui_session: LibrarySession, qtbot
) -> None:
    # A layout saved before the preview pane existed: two panes.
    from PySide6.QtWidgets import QLabel, QSplitter

    old = QSplitter()
    old.addWidget(QLabel("library"))
    old.addWidget(QLabel("results"))
    old.setSizes([300, 800])
    ui_session.settings.set_geometry("splitter", old.saveState())
    first = MainWindow(ui_session)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    assert first.preview.width() > 200
    first.splitter.setSizes([200, 500, 380])
    sizes, size = first.splitter.sizes(), first.size()
    first.close()
    saved = ui_session.settings.geometry("panes")
    assert saved is not None
    second = MainWindow(ui_session)
    qtbot.addWidget(second)
    second.resize(size)
    second.show()
    qtbot.waitExposed(second)
    assert second.preview.width() > 200
    assert second.splitter.restoreState(saved) and second.splitter.sizes() == sizes


def test_a_result_whose_file_is_missing_is_said_in_the_preview_and_not_rendered(
    window, qtbot, monkeypatch
) -> None:
    hits = search(window, qtbot)
    asked: list = []
    monkeypatch.setattr(window.session, "render_page", lambda *args, **kwargs: asked.append(args))
    gone = [dataclasses.replace(hit, missing=True) for hit in hits]
    preview = window.preview
    preview.show_result(gone, 0)
    assert preview.file_absent.isVisible() and "stored vectors" in preview.file_absent.text()
    assert not preview.next_page_action.isEnabled() and not preview.previous_page_action.isEnabled()
    qtbot.wait(50)  # the render would be asked for after the current event: it is not
    assert asked == [] and not preview.canvas.overlay.isVisible()
    preview.show_result(hits, 1)
    assert not preview.file_absent.isVisible()


def test_the_library_pane_s_search_in_these_documents_sets_the_scope(window, qtbot) -> None:
    """Library pane → "Search in this document": the chip names the file, searches keep to it."""
    pane = window.library_pane
    qtbot.waitUntil(lambda: pane.tree.topLevelItemCount() == 2, timeout=30_000)
    book = doc_id_of(window, "book.pdf")
    (item,) = [
        pane.tree.topLevelItem(row)
        for row in range(2)
        if pane.records([book]) and pane.tree.topLevelItem(row).text(0).startswith("book")
    ]
    (action,) = [a for a in pane.context_menu(item).actions() if a.text().startswith("Search in")]
    assert action.text() == "Search in this document" and action.isEnabled()
    action.trigger()
    qtbot.waitUntil(lambda: not window.scope_chip.isHidden(), timeout=5_000)
    assert "book.pdf" in window.scope_chip.label.text() and window.scope_chip.within == [book]
    assert {hit.doc_id for hit in search(window, qtbot)} == {book}
