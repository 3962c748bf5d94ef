"""Files that go missing, as the GUI shows them (offscreen): the library list, forgetting them,
the status line after a sync, and search results whose file is not on disk."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from docretriever.library import AddReport, FileOutcome
from docretriever.vocabulary import Document, availability_note
from docretriever_ui.error_dialog import ErrorDialog
from docretriever_ui.ingest_status import summarize, unusable_paths
from docretriever_ui.library_pane import LibraryPane
from docretriever_ui.main_window import MainWindow
from docretriever_ui.missing_files import ForgetMissingDialog, forget_question
from docretriever_ui.results_grid import MISSING_MARK, MISSING_ROLE
from docretriever_ui.session import LibrarySession
from docretriever_ui.viewer import PageViewer

DAY = 86_400.0
YESTERDAY = time.time() - DAY


def record(name: str, *, missing_since: float | None = None, unavailable: bool = False) -> Document:
    sha = hashlib.sha256(name.encode()).hexdigest()
    return Document(
        sha256=sha,
        paths=(f"/papers/{name}",),
        size=2048,
        page_count=3,
        status="indexed",
        error=None,
        error_details=None,
        added_at=time.time() - 3 * DAY,
        missing_since=missing_since,
        unavailable=unavailable,
    )


DOCUMENTS = {
    "here.pdf": record("here.pdf"),
    "gone.pdf": record("gone.pdf", missing_since=YESTERDAY),
    "on-usb.pdf": record("on-usb.pdf", missing_since=YESTERDAY, unavailable=True),
}


@pytest.fixture()
def pane(qtbot) -> LibraryPane:
    pane = LibraryPane()
    qtbot.addWidget(pane)
    pane.set_documents(list(DOCUMENTS.values()))
    pane.show()
    return pane


def double_click(tree, item) -> None:
    """As a mouse does it: a press and release, then the double click (on the pressed row)."""
    center = tree.visualItemRect(item).center()
    for click in (QTest.mouseClick, QTest.mouseDClick):
        click(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, center)


def rows(pane: LibraryPane) -> dict[str, object]:
    tree = pane.tree
    return {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}


def test_the_pane_shows_where_each_documents_file_is(pane: LibraryPane) -> None:
    items = rows(pane)
    assert items["here.pdf"].text(3) == "Indexed"
    assert items["gone.pdf"].text(3) == "Missing"
    assert items["on-usb.pdf"].text(3) == "Not available"
    for name in ("gone.pdf", "on-usb.pdf"):
        note = availability_note(DOCUMENTS[name])
        assert note and items[name].toolTip(3) == note and items[name].toolTip(0) == note
        assert items[name].font(0).italic()
    assert "Not available since" in items["on-usb.pdf"].toolTip(3)
    assert not items["here.pdf"].font(0).italic()
    assert items["here.pdf"].toolTip(0) == "/papers/here.pdf"
    assert pane.missing_documents() == [DOCUMENTS["gone.pdf"]]  # not the one out of reach


def test_opening_a_document_not_on_disk_says_why_instead(pane: LibraryPane, qtbot) -> None:
    opened: list[str] = []
    absent: list[str] = []
    pane.open_requested.connect(opened.append)
    pane.reveal_requested.connect(opened.append)
    pane.file_absent.connect(absent.append)
    items = rows(pane)
    for name in ("gone.pdf", "on-usb.pdf", "here.pdf"):
        double_click(pane.tree, items[name])
    assert opened == ["/papers/here.pdf"]
    assert len(absent) == 2 and "Missing since" in absent[0] and "Not available since" in absent[1]

    menu = pane.context_menu(items["gone.pdf"])
    actions = {action.text(): action for action in menu.actions()}
    actions["Reveal in file manager"].trigger()
    assert opened == ["/papers/here.pdf"] and len(absent) == 3
    assert not actions["Re-index"].isEnabled()  # there is no file to index again
    assert actions["Forget missing documents…"].isEnabled()
    assert pane.context_menu(items["here.pdf"]).actions()[2].isEnabled()


def test_missing_files_are_counted_not_reported_as_failures() -> None:
    report = AddReport(
        outcomes=[
            FileOutcome("/papers/a.pdf", "skipped", "aaaaaaaaaaaa", 2),
            FileOutcome("/papers/b.pdf", "missing", "bbbbbbbbbbbb", 3, "not at its last known place"),
        ],
        unreachable=[("/media/usb", "not mounted"), ("/mnt/share", "no answer")],
    )
    text = summarize(report)
    assert "1 missing (kept)" in text and "failed" not in text
    assert "2 folders not available (left as they were)" in text
    assert "Not reachable now: /media/usb and 1 more." in text
    assert unusable_paths(report) == []  # so no error box either


def test_the_question_before_forgetting_counts_documents_and_pages(qtbot) -> None:
    documents = [record("a.pdf", missing_since=1.0), record("b.pdf", missing_since=1.0)]
    assert forget_question(documents).startswith("Forget 2 missing documents (6 pages)? Their files are")
    assert forget_question(documents[:1]).startswith("Forget 1 missing document (3 pages)? Its file is")
    dialog = ForgetMissingDialog(documents)
    qtbot.addWidget(dialog)
    assert dialog.defaultButton() is dialog.cancel_button


# --- with a real library: two files added, one deleted, then a sync ----------------------------


@pytest.fixture()
def window(ui_session: LibrarySession, qtbot, tmp_path: Path) -> MainWindow:
    """The main window over a library of two files, ``kept.pdf`` and ``gone.pdf``; the file of
    ``gone.pdf`` is deleted after indexing, and not synced yet."""
    main = MainWindow(ui_session)
    qtbot.addWidget(main)
    main.show()
    kept = shutil.copy(corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf", tmp_path / "kept.pdf")
    gone = shutil.copy(SAMPLES / "026-latex-multicolumn" / "multicolumn.pdf", tmp_path / "gone.pdf")
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=120_000):
        main.add_paths([str(kept), str(gone)])
    qtbot.waitUntil(lambda: main.library_pane.tree.topLevelItemCount() == 2, timeout=10_000)
    assert not main.forget_missing_action.isEnabled()  # nothing missing yet
    Path(gone).unlink()
    return main


def sync(window: MainWindow, qtbot) -> None:
    with qtbot.waitSignal(window.session.ingest_finished, timeout=120_000):
        window.session.sync()
    qtbot.waitUntil(lambda: window.forget_missing_action.isEnabled(), timeout=10_000)


def answer_forget_dialog(qtbot, forget: bool) -> list[str]:
    """Click Forget (or Cancel) in the question once it is up; returns the question asked."""
    asked: list[str] = []

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, ForgetMissingDialog):
            QTimer.singleShot(20, answer)  # not shown yet: look again on the next turn
            return
        asked.append(dialog.text())
        (dialog.forget_button if forget else dialog.cancel_button).click()

    QTimer.singleShot(0, answer)
    return asked


def test_forgetting_missing_documents_asks_first(window: MainWindow, qtbot, tmp_path: Path) -> None:
    sync(window, qtbot)
    message = window.statusBar().currentMessage()
    assert "1 missing (kept)" in message and "failed" not in message
    assert not window.findChildren(ErrorDialog)
    gone = next(d for d in window.session.documents() if d.availability == "missing")
    assert gone.paths == (str(tmp_path / "gone.pdf"),)
    status = {item.text(0): item.text(3) for item in map(window.library_pane.tree.topLevelItem, range(2))}
    assert status == {"kept.pdf": "Indexed", "gone.pdf": "Missing"}

    asked = answer_forget_dialog(qtbot, forget=False)
    window.forget_missing_action.trigger()
    pages = gone.page_count
    assert len(asked) == 1 and asked[0].startswith(f"Forget 1 missing document ({pages} page")
    assert "Its file is at none of its last known places" in asked[0]
    assert window.session.runner.wait(10_000)
    assert len(window.session.documents()) == 2  # Cancel forgets nothing

    search(window, qtbot)
    assert any(hit.missing for hit in window.results.hits)
    asked = answer_forget_dialog(qtbot, forget=True)
    window.forget_missing_action.trigger()
    assert asked
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "Forgot 1 document.", timeout=10_000)
    assert window.results.count() > 0 and not any(hit.missing for hit in window.results.hits)
    assert [Path(d.paths[0]).name for d in window.session.documents()] == ["kept.pdf"]
    qtbot.waitUntil(lambda: window.library_pane.tree.topLevelItemCount() == 1, timeout=10_000)
    assert not window.forget_missing_action.isEnabled()


def test_double_clicking_a_missing_document_explains_instead_of_opening(
    window: MainWindow, qtbot, monkeypatch
) -> None:
    opened: list[tuple] = []
    monkeypatch.setattr("docretriever_ui.system.open_in_pdf_viewer", lambda *args: opened.append(args))
    sync(window, qtbot)
    tree = window.library_pane.tree
    item = next(tree.topLevelItem(i) for i in range(2) if tree.topLevelItem(i).text(0) == "gone.pdf")
    double_click(tree, item)
    boxes = [box for box in window.findChildren(QMessageBox) if box.isVisible()]
    assert opened == [] and not window.findChildren(ErrorDialog)
    assert len(boxes) == 1 and boxes[0].text().startswith("Missing since")
    assert boxes[0].text() == window.statusBar().currentMessage()
    boxes[0].close()


def search(window: MainWindow, qtbot) -> None:
    window.search_box.setText("text")
    qtbot.keyClick(window.search_box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.results.count() > 0, timeout=30_000)


def test_a_missing_files_hit_is_marked_and_opens_without_an_error(
    window: MainWindow, qtbot, tmp_path
) -> None:
    sync(window, qtbot)
    search(window, qtbot)
    grid = window.results
    missing = [i for i, hit in enumerate(grid.hits) if hit.missing]
    present = [i for i, hit in enumerate(grid.hits) if not hit.missing]
    assert missing and present
    card = grid.item(missing[0])
    assert card.data(MISSING_ROLE) and MISSING_MARK in card.text()
    assert f"last seen at {tmp_path / 'gone.pdf'}" in card.toolTip()
    assert not grid.item(present[0]).data(MISSING_ROLE)
    qtbot.waitUntil(lambda: grid.thumbnails_ready() == len(present), timeout=30_000)

    window.open_viewer(missing[0])
    viewer = window.viewer
    assert isinstance(viewer, PageViewer)
    qtbot.waitExposed(viewer)
    assert viewer.file_absent.isVisible() and str(tmp_path / "gone.pdf") in viewer.file_absent.text()
    assert "stored vectors" in viewer.file_absent.text()
    assert not viewer.open_action.isEnabled()
    assert window.session.runner.wait(10_000)
    QApplication.processEvents()  # delivers any queued render error (there must be none)
    assert not window.findChildren(ErrorDialog) and not viewer.findChildren(ErrorDialog)

    viewer.show_hit(present[0])  # a page whose file is there: shown, the note gone
    qtbot.waitUntil(lambda: not viewer.page_item.pixmap().isNull(), timeout=30_000)
    assert not viewer.file_absent.isVisible() and viewer.open_action.isEnabled()
    viewer.close()


def test_a_file_deleted_after_the_search_says_so_in_the_viewer(window: MainWindow, qtbot, tmp_path) -> None:
    # Put the file back for the search (no hit is missing then), and delete it again after.
    shutil.copy(SAMPLES / "026-latex-multicolumn" / "multicolumn.pdf", tmp_path / "gone.pdf")
    search(window, qtbot)
    grid = window.results
    assert not any(hit.missing for hit in grid.hits)
    index = next(i for i, hit in enumerate(grid.hits) if Path(hit.path).name == "gone.pdf")
    qtbot.waitUntil(lambda: grid.thumbnails_ready() == grid.count(), timeout=30_000)
    (tmp_path / "gone.pdf").unlink()
    window.open_viewer(index)
    viewer = window.viewer
    assert isinstance(viewer, PageViewer)
    qtbot.waitUntil(viewer.file_absent.isVisible, timeout=30_000)  # once its render failed
    assert not window.findChildren(ErrorDialog) and not viewer.findChildren(ErrorDialog)
    viewer.close()
