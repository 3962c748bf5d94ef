"""The library pane, the ingest line and the status bar as people use them (offscreen): the
context menu from the keyboard, named confirmations, sorting, filtering and failure reasons,
unfinished indexing (at start, after Cancel, when quitting), and plain words while indexing."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox

from docretriever.errors import Cancelled
from docretriever.progress import CancelToken, Progress
from docretriever.vocabulary import Document
from docretriever_ui.ingest_status import plain_progress, progress_details, time_left
from docretriever_ui.library_pane import LibraryPane
from docretriever_ui.library_prompts import quit_question, removal_question
from docretriever_ui.library_rows import ADDED, NAME, PAGES, STATUS, StatusFilter
from docretriever_ui.main_window import MainWindow
from docretriever_ui.session import LibrarySession

DAY = 86_400.0
LONG_REASON = (
    "The file is not a PDF MuPDF can read: its cross-reference table is broken and no object "
    "could be recovered from the stream that follows it (offset 1234, generation 0), so none of "
    "its pages can be drawn. It may be truncated: a download that stopped early?"
)


def record(
    name: str,
    *,
    pages: int = 3,
    size: int = 2048,
    status: str = "indexed",
    error: str | None = None,
    age_days: float = 1,
) -> Document:
    sha = hashlib.sha256(name.encode()).hexdigest()
    return Document(
        sha256=sha,
        paths=(f"/papers/{name}",),
        size=size,
        page_count=pages,
        status=status,
        error=error,
        error_details="Traceback: …" if error else None,
        added_at=time.time() - age_days * DAY,
    )


def make_pdf(path: Path, pages: int) -> Path:
    document = pymupdf.open()
    for number in range(pages):
        page = document.new_page(width=300, height=400)
        page.insert_text((40, 60), f"Page {number + 1} of {path.stem}", fontsize=18)
    document.save(str(path))
    return path


def names(pane: LibraryPane, *, shown_only: bool = True) -> list[str]:
    return [item.text(NAME) for item in pane.tree.items() if not (shown_only and item.isHidden())]


def item_named(pane: LibraryPane, name: str):
    return next(item for item in pane.tree.items() if item.text(NAME) == name)


def open_menu(qtbot) -> QMenu:
    qtbot.waitUntil(
        lambda: any(menu.isVisible() for menu in QApplication.topLevelWidgets() if isinstance(menu, QMenu))
    )
    return next(
        menu for menu in QApplication.topLevelWidgets() if isinstance(menu, QMenu) and menu.isVisible()
    )


def action(menu: QMenu, prefix: str):
    return next(a for a in menu.actions() if a.text().startswith(prefix))


def menu_key(tree) -> None:
    """The Menu key as Qt delivers it: a keyboard context-menu event to the focused list, at
    its input-method cursor rectangle (the current row, in the list's own coordinates)."""
    position = tree.inputMethodQuery(Qt.InputMethodQuery.ImCursorRectangle).center()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Keyboard, position, tree.mapToGlobal(position))
    QApplication.sendEvent(tree, event)


@pytest.fixture()
def pane(qtbot) -> LibraryPane:
    pane = LibraryPane()
    qtbot.addWidget(pane)
    pane.resize(520, 400)
    pane.set_documents([record(f"doc-{i}.pdf", age_days=10 - i) for i in range(6)])
    pane.show()
    return pane


# --- the context menu acts on the selection, from the mouse and from the keyboard --------------


@pytest.mark.parametrize("how", ["menu key", "shift+f10"])
def test_a_keyboard_menu_acts_on_the_current_row_not_the_one_below(pane: LibraryPane, qtbot, how) -> None:
    tree = pane.tree
    tree.setFocus()
    tree.setCurrentItem(item_named(pane, "doc-1.pdf"))
    removed: list[list[str]] = []
    pane.remove_requested.connect(removed.append)
    if how == "menu key":
        menu_key(tree)
    else:
        qtbot.keyClick(tree, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    menu = open_menu(qtbot)
    assert [item.text(NAME) for item in tree.selectedItems()] == ["doc-1.pdf"]  # not doc-2
    row = tree.visualItemRect(item_named(pane, "doc-1.pdf"))
    top_left = tree.viewport().mapToGlobal(row.topLeft())
    assert top_left.y() <= menu.pos().y() <= top_left.y() + 2 * row.height()  # at the row, not below it
    action(menu, "Remove").trigger()
    menu.close()
    assert removed == [[record("doc-1.pdf").doc_id]]


def test_the_menu_acts_on_every_selected_row(pane: LibraryPane, qtbot) -> None:
    tree = pane.tree
    tree.setFocus()
    for name in ("doc-1.pdf", "doc-3.pdf"):
        item_named(pane, name).setSelected(True)
    tree.setCurrentItem(item_named(pane, "doc-3.pdf"), 0, tree.selectionModel().SelectionFlag.NoUpdate)
    removed: list[list[str]] = []
    reindexed: list[str] = []
    pane.remove_requested.connect(removed.append)
    pane.reindex_requested.connect(reindexed.append)
    menu_key(tree)
    menu = open_menu(qtbot)
    assert not action(menu, "Open").isEnabled()  # opening several at once is not what a key should do
    action(menu, "Re-index 2 documents").trigger()
    action(menu, "Remove 2 documents").trigger()
    menu.close()
    both = [record("doc-1.pdf").doc_id, record("doc-3.pdf").doc_id]
    assert removed == [both] and reindexed == both


def test_a_right_click_outside_the_selection_acts_on_that_row_alone(pane: LibraryPane, qtbot) -> None:
    tree = pane.tree
    item_named(pane, "doc-0.pdf").setSelected(True)
    target = item_named(pane, "doc-4.pdf")
    where = tree.visualItemRect(target).center()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, where, tree.viewport().mapToGlobal(where))
    QApplication.sendEvent(tree.viewport(), event)
    menu = open_menu(qtbot)
    assert [item.text(NAME) for item in tree.selectedItems()] == ["doc-4.pdf"]
    menu.close()


def test_the_removal_question_names_what_it_removes() -> None:
    budget = record("budget-2024.pdf")
    assert removal_question([budget]) == (
        "Remove “budget-2024.pdf” from the library? The file stays where it is."
    )
    several = removal_question([budget, record("a.pdf"), record("b.pdf")])
    assert several.startswith("Remove 3 documents from the library?")
    assert "• budget-2024.pdf" in several and several.endswith("The files stay where they are.")
    many = removal_question([record(f"{i}.pdf") for i in range(8)])
    assert "… and 3 more" in many


# --- sorting, filtering, failure reasons --------------------------------------------------------


@pytest.fixture()
def mixed(qtbot, app_settings) -> LibraryPane:
    pane = LibraryPane(settings=app_settings)
    qtbot.addWidget(pane)
    pane.resize(600, 400)
    pane.set_documents(
        [
            record("budget-2024.pdf", pages=100, size=9_000_000, age_days=3),
            record("atlas.pdf", pages=2, size=1_000, age_days=1),
            record("broken.pdf", pages=0, size=500, status="failed", error=LONG_REASON, age_days=2),
            record("notes.pdf", pages=10, size=40_000, status="pending", age_days=5),
        ]
    )
    pane.show()
    return pane


def click_header(pane: LibraryPane, column: int) -> None:
    header = pane.tree.header()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    QTest.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, 5)
    )


def test_clicking_a_header_sorts_by_what_the_column_means(mixed: LibraryPane, app_settings, qtbot) -> None:
    assert names(mixed) == ["notes.pdf", "budget-2024.pdf", "broken.pdf", "atlas.pdf"]  # as added
    click_header(mixed, PAGES)
    assert names(mixed) == ["broken.pdf", "atlas.pdf", "notes.pdf", "budget-2024.pdf"]  # 0, 2, 10, 100
    click_header(mixed, PAGES)
    assert names(mixed)[0] == "budget-2024.pdf"
    click_header(mixed, NAME)
    assert names(mixed) == ["atlas.pdf", "broken.pdf", "budget-2024.pdf", "notes.pdf"]
    click_header(mixed, STATUS)
    assert names(mixed)[:2] == ["broken.pdf", "notes.pdf"]  # what needs attention first
    assert mixed.tree.isColumnHidden(ADDED)  # too narrow beside the results: the header's menu has it
    menu = mixed.tree.header_menu()
    next(a for a in menu.actions() if a.text() == "Date added").trigger()
    assert names(mixed) == ["notes.pdf", "budget-2024.pdf", "broken.pdf", "atlas.pdf"]
    next(a for a in menu.actions() if a.text() == "Added").trigger()  # show the column
    assert not mixed.tree.isColumnHidden(ADDED)
    click_header(mixed, ADDED)
    assert names(mixed) == ["atlas.pdf", "broken.pdf", "budget-2024.pdf", "notes.pdf"]  # newest first
    menu.close()

    click_header(mixed, PAGES)
    again = LibraryPane(settings=app_settings)  # the next start
    qtbot.addWidget(again)
    assert again.tree.sortColumn() == PAGES and not again.tree.isColumnHidden(ADDED)


def test_the_filter_by_name_and_by_status(mixed: LibraryPane) -> None:
    mixed.filter_box.setText("BUDGET")
    assert names(mixed) == ["budget-2024.pdf"]
    mixed.filter_box.setText("papers/")  # the folder matches too
    assert len(names(mixed)) == 4
    mixed.filter_box.clear()
    texts = [mixed.status_filter.itemText(i) for i in range(mixed.status_filter.count())]
    assert texts == ["All", "Failed (1)", "Pending (1)", "Missing (0)"]
    mixed.status_filter.setCurrentIndex(mixed.status_filter.findData(StatusFilter.FAILED))
    assert names(mixed) == ["broken.pdf"]
    assert "1 shown" in mixed.details.text()
    mixed.status_filter.setCurrentIndex(mixed.status_filter.findData(StatusFilter.PENDING))
    assert names(mixed) == ["notes.pdf"]


def test_what_the_filter_hides_is_not_acted_on(mixed: LibraryPane, qtbot) -> None:
    mixed.tree.selectAll()
    mixed.filter_box.setText("atlas")
    removed: list[list[str]] = []
    mixed.remove_requested.connect(removed.append)
    mixed.tree.setFocus()
    qtbot.keyClick(mixed.tree, Qt.Key.Key_Delete)
    assert removed == [[record("atlas.pdf").doc_id]]


def test_a_failure_reason_is_shown_in_full(mixed: LibraryPane) -> None:
    broken = item_named(mixed, "broken.pdf")
    assert broken.text(STATUS) == "Failed"  # the column is not where the reason is cut short
    assert broken.toolTip(STATUS) == LONG_REASON
    mixed.show_documents([record("broken.pdf").doc_id])
    assert LONG_REASON in mixed.details.text()
    assert "/papers/broken.pdf" in mixed.details.text()
    assert mixed.details.copy_button.isVisible()
    mixed.tree.selectAll()
    assert "4 documents selected" in mixed.details.text() and LONG_REASON in mixed.details.text()
    mixed.tree.clearSelection()
    assert mixed.details.text().startswith("4 documents · 112 pages")


# --- plain words in the status bar --------------------------------------------------------------


def test_the_ingest_line_speaks_plainly() -> None:
    rates = "budget.pdf (render 4.5/s · embed 3.7/s · store 4.2/s)"
    indexing = Progress("Indexing", 12, 40, message=rates, rate=3.7, eta_s=118)
    assert plain_progress(indexing) == "Indexing 12 of 40 pages · about 2 min left"
    assert (
        plain_progress(Progress("Reading files", 1, 2, "files", "a.pdf")) == "Looking at your files (1 of 2)"
    )
    assert plain_progress(Progress("Loading the model", 0, None)) == "Preparing…"
    assert "render 4.5/s" in progress_details(indexing)  # in the tooltip, at most
    assert time_left(20) == "less than a minute left" and time_left(4_900) == "about 1 h 22 min left"
    assert quit_question(indexing) == (
        "Indexing is running (12 of 40 pages). Quit anyway? What is indexed so far is kept."
    )


# --- with a real library and the tiny model ------------------------------------------------------


@pytest.fixture()
def window(ui_session: LibrarySession, qtbot) -> Iterator[MainWindow]:
    main = MainWindow(ui_session)
    qtbot.addWidget(main)
    main.resize(1100, 700)
    main.show()
    yield main


@pytest.fixture()
def writer_gate(ui_session: LibrarySession) -> Iterator[threading.Event]:
    """Holds the writer (so that an ingest started now stays queued) until set."""
    gate = threading.Event()
    started = threading.Event()

    def hold(progress, cancel) -> None:
        started.set()
        gate.wait(60)

    ui_session.runner.write(hold)
    started.wait(10)
    yield gate
    gate.set()


def test_a_failed_add_is_selected_and_flagged_until_seen(window: MainWindow, qtbot, tmp_path: Path) -> None:
    good = make_pdf(tmp_path / "good.pdf", 2)
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"this is not a PDF at all\n" * 20)
    labels: list[str] = []
    window.session.ingest_progress.connect(lambda _: labels.append(window.ingest_status.label.text()))
    with qtbot.waitSignal(window.session.ingest_finished, timeout=120_000):
        window.add_paths([str(good), str(junk)])
    pane, notices = window.library_pane, window.library_notices
    qtbot.waitUntil(
        lambda: [item.text(NAME) for item in pane.tree.selectedItems()] == ["junk.pdf"], timeout=5_000
    )
    assert pane.tree.currentItem().text(NAME) == "junk.pdf"
    assert "Indexing failed:" in pane.details.text()
    assert notices.isVisible() and notices.failed_label.text() == "1 failed"
    assert labels and not any("/s" in text or "ETA" in text or "render" in text for text in labels)

    pane.tree.clearSelection()
    pane.filter_box.setText("good")  # the failed file is filtered out: Show brings it back
    qtbot.mouseClick(notices.show_failed_button, Qt.MouseButton.LeftButton)
    assert pane.filter_box.text() == "" and [i.text(NAME) for i in pane.tree.selectedItems()] == ["junk.pdf"]
    assert not notices.failed_label.isVisible()


def interrupted(session: LibrarySession, path: Path) -> None:
    """Index ``path`` and stop after its first batch of pages, as a Cancel or a quit does."""
    token = CancelToken()

    def progress(report: Progress) -> None:
        if report.stage == "Indexing" and report.done > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        session.library.add([str(path)], progress, token)


def test_unfinished_documents_are_offered_at_start_and_finished(
    ui_session: LibrarySession, qtbot, tmp_path: Path
) -> None:
    interrupted(ui_session, make_pdf(tmp_path / "long.pdf", 10))
    [document] = ui_session.documents()
    assert document.status == "pending"
    window = MainWindow(ui_session)  # the next start
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.library_refresh.refreshed, timeout=10_000):  # read off the UI thread
        window.show()
    notices = window.library_notices
    assert notices.isVisible() and notices.unfinished_label.text() == "1 document was not finished"
    menu = window.library_pane.context_menu(item_named(window.library_pane, "long.pdf"))
    assert action(menu, "Finish indexing").isEnabled()
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=120_000) as finished:
        qtbot.mouseClick(notices.finish_button, Qt.MouseButton.LeftButton)
        assert not notices.isVisible()  # not while it runs
    assert finished.args[0].count("indexed") == 1
    assert [d.status for d in ui_session.documents()] == ["indexed"]
    pane = window.library_pane  # read again in the background
    qtbot.waitUntil(lambda: item_named(pane, "long.pdf").text(STATUS) == "Indexed", timeout=10_000)
    assert not notices.isVisible()


def test_quitting_during_an_ingest_asks_first(window: MainWindow, qtbot, writer_gate, tmp_path: Path) -> None:
    window.add_paths([str(make_pdf(tmp_path / "a.pdf", 1))])  # queued behind the held writer
    window.ingest_status.update_progress(Progress("Indexing", 12, 40))
    window.close()
    box = window.quit_guard.question
    assert box is not None and box.isVisible() and window.isVisible()
    assert box.text() == "Indexing is running (12 of 40 pages). Quit anyway? What is indexed so far is kept."
    keep = next(b for b in box.buttons() if b.text() == "Keep indexing")
    assert box.defaultButton() is keep
    keep.click()
    assert window.isVisible() and window.session.ingesting

    window.close()
    box = window.quit_guard.question
    assert box is not None
    next(b for b in box.buttons() if b.text() == "Quit").click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)


def test_a_search_during_an_ingest_shows_beside_the_progress(window: MainWindow, qtbot, writer_gate) -> None:
    window.session.add(["/nowhere/at/all.pdf"])  # queued: the ingest line shows
    qtbot.waitUntil(window.ingest_status.isVisible, timeout=5_000)
    window.ingest_status.update_progress(
        Progress("Indexing", 1_234, 5_678, message="x.pdf (render 4.5/s)", eta_s=700)
    )
    window.search_box.setText("a table of contents with page numbers")
    window.run_search()
    message = window.statusBar().currentMessage()
    assert message.startswith("Searching")
    # The message is drawn left of the permanent widgets: there must be room for it.
    room = window.ingest_status.geometry().left()
    if window.library_notices.isVisible():
        room = window.library_notices.geometry().left()
    assert room > window.statusBar().fontMetrics().horizontalAdvance(message)
    assert window.ingest_status.width() <= window.ingest_status.maximumWidth() < 600
    assert "render" not in window.ingest_status.label.text() and "render" in window.ingest_status.toolTip()


def test_delete_asks_naming_the_document(window: MainWindow, qtbot, tmp_path: Path, monkeypatch) -> None:
    with qtbot.waitSignal(window.session.ingest_finished, timeout=120_000):
        window.add_paths(
            [str(make_pdf(tmp_path / "budget-2024.pdf", 1)), str(make_pdf(tmp_path / "b.pdf", 1))]
        )
    qtbot.waitUntil(lambda: window.library_pane.tree.topLevelItemCount() == 2, timeout=10_000)
    asked: list[str] = []

    def answer(parent, title, text, *args):
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", answer)
    tree = window.library_pane.tree
    tree.setFocus()
    tree.setCurrentItem(item_named(window.library_pane, "budget-2024.pdf"))
    qtbot.keyClick(tree, Qt.Key.Key_Delete)
    assert asked == ["Remove “budget-2024.pdf” from the library? The file stays where it is."]
    tree.selectAll()
    qtbot.keyClick(tree, Qt.Key.Key_Delete)
    assert asked[1].startswith("Remove 2 documents from the library?")
    assert len(window.session.documents()) == 2  # No removes nothing
