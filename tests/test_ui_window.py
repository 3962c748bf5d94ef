"""The main window's conventions (issue 16): drops taken as copies and highlighted, the model
set-up without the Hub, the standard keys, Help, remembered folders, recent searches and the last
query at start, and the notification after a long ingest that ends unseen. Start-up and quit are
in tests/test_ui_start_quit.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES, corpus_or_skip
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDragLeaveEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QSystemTrayIcon, QTextBrowser, QWidget

from docretriever.library import AddReport
from docretriever_ui import model_dialog, notifications
from docretriever_ui.help_dialogs import AboutDialog
from docretriever_ui.main_window import MainWindow
from docretriever_ui.search_box import RECENT_SEARCHES, SearchBox
from docretriever_ui.session import LibrarySession
from docretriever_ui.shortcuts import ShortcutsDialog, plain_text
from docretriever_ui.tasks import TaskError

COPY, MOVE, LINK = Qt.DropAction.CopyAction, Qt.DropAction.MoveAction, Qt.DropAction.LinkAction


def action_named(window: MainWindow, text: str):
    return next(action for action in window.findChildren(QAction) if plain_text(action) == text)


# --- 6. drops: a copy, never a move; the window highlighted meanwhile -------------------------


def file_mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    return mime


def test_files_dragged_in_are_taken_as_a_copy_and_the_window_is_highlighted_meanwhile(
    window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = tmp_path / "budget-2024.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    added: list[list[str]] = []
    monkeypatch.setattr(window, "add_paths", added.append)
    mime = file_mime(pdf)
    # Shift: the file manager proposes a move, after which it may delete what it dragged.
    enter = QDragEnterEvent(
        QPointF(60, 60), COPY | MOVE, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier
    )
    assert enter.proposedAction() == MOVE
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted() and enter.dropAction() == COPY
    assert window.drop_highlight.isVisible() and window.drop_highlight.geometry() == window.rect()

    QApplication.sendEvent(window, QDragLeaveEvent())
    assert not window.drop_highlight.isVisible()

    QApplication.sendEvent(
        window,
        QDragEnterEvent(
            QPointF(60, 60), COPY | MOVE, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier
        ),
    )
    assert window.drop_highlight.isVisible()
    drop = QDropEvent(
        QPointF(60, 60), COPY | MOVE, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier
    )
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted() and drop.dropAction() == COPY
    assert not window.drop_highlight.isVisible()
    assert added == [[str(pdf)]]


def test_a_link_only_drag_is_linked_and_move_only_or_fileless_drags_are_refused(
    window: MainWindow, tmp_path: Path
) -> None:
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    mime = file_mime(pdf)  # held: an event does not own its data
    link_only = QDragEnterEvent(
        QPointF(5, 5), LINK, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, link_only)
    assert link_only.isAccepted() and link_only.dropAction() == LINK
    QApplication.sendEvent(window, QDragLeaveEvent())

    move_only = QDragEnterEvent(
        QPointF(5, 5), MOVE, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, move_only)
    assert not move_only.isAccepted() and not window.drop_highlight.isVisible()

    text = QMimeData()
    text.setText("not a file")
    text_drag = QDragEnterEvent(
        QPointF(5, 5), COPY, text, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, text_drag)
    assert not text_drag.isAccepted() and not window.drop_highlight.isVisible()


# --- 9. the model set-up without the Hub ------------------------------------------------------


def test_without_the_hub_download_is_off_and_retry_or_a_model_folder_are_offered(
    qtbot, app_settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model_dir: Path
) -> None:
    from test_ui_model_dialog import NO_HUB, choose_folder, hub_unreachable, two_repo_plan

    from docretriever_ui.tasks import TaskRunner

    app_settings.model = "vidore/colqwen2-v1.0"
    answers = [hub_unreachable, lambda source, cancel=None: two_repo_plan()]
    monkeypatch.setattr(
        model_dialog, "plan_download", lambda source, cancel=None: answers.pop(0)(source, cancel)
    )
    runner = TaskRunner()
    dialog = model_dialog.ModelSetupDialog(app_settings, runner)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.hub_failed, timeout=10_000)
    # Said plainly, with the core's reason; no Download to press; the ways out offered.
    assert dialog.size_label.text().startswith("The model cannot be downloaded now.")
    assert NO_HUB in dialog.size_label.text()
    assert not dialog.download_button.isEnabled()
    assert dialog.retry_button.isVisible() and dialog.retry_button.isEnabled()
    assert dialog.choose_button.isEnabled() and dialog.choose_button.isDefault()

    qtbot.mouseClick(dialog.retry_button, Qt.MouseButton.LeftButton)  # the network is back
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10_000)
    assert dialog.download_button.isEnabled() and not dialog.retry_button.isVisible()
    assert dialog.size_label.text().startswith("Download: 4.4 GB")

    choose_folder(monkeypatch, tiny_model_dir)  # the other way out still works too
    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        qtbot.mouseClick(dialog.choose_button, Qt.MouseButton.LeftButton)
    assert app_settings.model == str(tiny_model_dir)
    assert runner.wait(30_000)


# --- 12. conventions: keys, Help, remembered folders ------------------------------------------


def test_esc_clears_the_search_box(window: MainWindow, qtbot) -> None:
    window.focus_search()
    qtbot.keyClicks(window.search_box, "invoice from the plumber")
    qtbot.keyClick(window.search_box, Qt.Key.Key_Escape)
    assert window.search_box.text() == ""


def test_f11_is_full_screen_and_ctrl_comma_opens_the_preferences(
    window: MainWindow, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert QKeySequence("F11") in window.full_screen_action.shortcuts()
    qtbot.keyClick(window, Qt.Key.Key_F11)
    qtbot.waitUntil(window.isFullScreen, timeout=5_000)
    assert window.full_screen_action.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=5_000)

    preferences = action_named(window, "Preferences")
    assert QKeySequence("Ctrl+,") in preferences.shortcuts()
    opened: list[bool] = []
    preferences.triggered.disconnect()  # the real dialog is modal: only see that the key reaches it
    preferences.triggered.connect(lambda: opened.append(True))
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    assert opened == [True]


def test_help_lists_every_shortcut_and_about_gives_version_model_library_and_licence(
    window: MainWindow, qtbot
) -> None:
    help_menu = [plain_text(action) for action in window.help_menu.actions()]
    assert help_menu == ["Keyboard shortcuts", "About DocRetriever"]
    window.show_shortcuts()
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible()
    listed = {(keys, what) for _, keys, what in dialog.rows}
    for action in window.findChildren(QAction):  # every action with keys
        for key in action.shortcuts():
            assert any(key.toString(QKeySequence.SequenceFormat.NativeText) in keys for keys, _ in listed), (
                key
            )
    shown = dialog.browser.toPlainText()
    for expected in ("Ctrl+O", "Ctrl+F", "F11", "Ctrl+,", "Esc", "Clear the search box", "Full screen"):
        assert expected in shown, expected
    dialog.close()

    window.show_about()
    about = window.findChild(AboutDialog)
    assert about is not None
    text = about.label.text()
    settings = window.session.settings
    assert "DocRetriever 0.1.0" in text
    assert settings.model in text and settings.library in text
    assert "AGPL-3.0-or-later" in text
    assert about.licence_button.isEnabled() and about.notices_button.isEnabled()
    notices = about.show_file(ROOT / "THIRD-PARTY-NOTICES.md")
    assert "PyMuPDF" in notices.findChild(QTextBrowser).toPlainText()
    about.close()


def test_file_dialogs_open_where_the_last_one_was_left(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    papers = tmp_path / "papers"
    (papers / "2024").mkdir(parents=True)
    asked: list[str] = []
    picked = [[str(papers / "a.pdf")], []]

    def open_names(parent, caption, folder, filters):
        asked.append(folder)
        return picked.pop(0), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(open_names))
    monkeypatch.setattr(window, "add_paths", lambda paths: None)
    window.choose_files()
    window.choose_files()
    assert asked == ["", str(papers)]

    def existing(parent, caption, folder=""):
        asked.append(folder)
        return str(papers / "2024")

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(existing))
    window.choose_folder()
    window.choose_folder()
    assert asked[2:] == [str(papers), str(papers)]  # a folder's parent: its siblings are near
    # Remembered in the settings: a window opened later starts there too.
    assert window.session.settings.last_folder("pdfs") == str(papers)


# --- recent searches, and the last query at start ---------------------------------------------


def test_recent_searches_are_remembered_newest_first_and_the_last_is_restored_unrun(
    app_settings, qtbot
) -> None:
    box = SearchBox(app_settings)
    qtbot.addWidget(box)
    box.show()
    for query in [f"query {n}" for n in range(25)] + ["QUERY 3"]:
        box.setText(query)
        qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: box.recent()[:1] == ["QUERY 3"])
    recent = box.recent()
    assert len(recent) == RECENT_SEARCHES and recent[1] == "query 24"
    assert [item.casefold() for item in recent].count("query 3") == 1

    # The next start: the same list, the last query in the box, selected (typing replaces it).
    again = SearchBox(app_settings)
    qtbot.addWidget(again)
    assert again.recent() == recent
    assert again.text() == "QUERY 3" and again.selectedText() == "QUERY 3"


def test_a_recent_search_runs_once_when_picked_and_the_drop_down_filters_as_you_type(
    window: MainWindow, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    searches: list[str] = []
    monkeypatch.setattr(window.results_pane, "search", lambda query, *args, **kwargs: searches.append(query))
    box = window.search_box
    for query in ("arabic script", "a table of figures", "pdfkit cover"):
        box.remember(query)
    box.clear()
    window.focus_search()
    qtbot.keyClick(box, Qt.Key.Key_Down)  # the whole list
    popup = box.completer().popup()
    qtbot.waitUntil(popup.isVisible)
    assert popup.model().rowCount() == 3
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: box.recent()[0] == "a table of figures")
    assert searches == ["a table of figures"]  # Enter and the pick: one search

    box.clear()
    qtbot.keyClicks(box, "ar")  # what contains "ar": "arabic script"
    qtbot.waitUntil(popup.isVisible)
    assert [popup.model().index(row, 0).data() for row in range(popup.model().rowCount())] == [
        "arabic script"
    ]
    rect = popup.visualRect(popup.model().index(0, 0))
    qtbot.mouseClick(popup.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: len(searches) == 2)
    assert searches[1] == "arabic script" and box.text() == "arabic script"


def test_the_last_query_is_in_the_box_at_start_and_not_run(
    ui_session: LibrarySession, qtbot, monkeypatch
) -> None:
    ui_session.settings.recent_searches = ["lecture notes on topology", "arabic script"]
    started: list[str] = []
    monkeypatch.setattr(ui_session, "search", lambda query, *args, **kwargs: started.append(query))
    main = MainWindow(ui_session)
    qtbot.addWidget(main)
    main.show()
    QApplication.processEvents()
    assert main.search_box.text() == "lecture notes on topology"
    assert started == []


# --- a notification when a long ingest ends unseen --------------------------------------------


def test_a_long_ingest_that_ends_in_the_background_tells_the_desktop(
    window: MainWindow, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    alerts: list[QWidget] = []
    monkeypatch.setattr(QApplication, "alert", staticmethod(lambda widget, ms=0: alerts.append(widget)))
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: False))
    notifier = window.notifier
    now = [1000.0]
    notifier.clock = lambda: now[0]
    session = window.session

    def ingest(seconds: float, outcome) -> None:
        session.ingest_started.emit()
        now[0] += seconds
        session.ingest_finished.emit(outcome)

    other = QWidget()  # the person works in another window meanwhile
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(other.isActiveWindow, timeout=5_000)

    ingest(notifications.LONG_INGEST_S - 1, AddReport())  # short: nothing
    assert notifier.last is None and alerts == []
    pdf = corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf"
    notifier.clock = lambda: now[0]
    with qtbot.waitSignal(session.ingest_finished, timeout=120_000):
        session.add([str(pdf)])
        now[0] += 31  # a real ingest, which took half a minute by the notifier's clock
    assert notifier.last is not None and notifier.last[:2] == ("alert", "Indexing finished")
    assert "1 indexed" in notifier.last[2] and alerts == [window]

    # With a tray that shows messages: a notification there instead.
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    monkeypatch.setattr(QSystemTrayIcon, "supportsMessages", staticmethod(lambda: True))
    monkeypatch.setattr(
        QSystemTrayIcon, "showMessage", lambda self, title, text, *rest: shown.append((title, text))
    )
    ingest(120, TaskError("Cancelled.", "", cancelled=True))
    assert shown and shown[0][0] == "Indexing stopped" and notifier.last[0] == "tray"

    # In front: no notification, however long.
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    notifier.last = None
    ingest(120, AddReport())
    assert notifier.last is None


def test_settings_keep_a_one_item_recent_list_as_a_list(app_settings) -> None:
    app_settings.recent_searches = ["only one"]
    app_settings.sync()
    assert app_settings.recent_searches == ["only one"]  # an ini list of one would come back a string
    app_settings.store.setValue("search/recent", "not json")
    assert app_settings.recent_searches == []
