"""The GUI watches the followed folders while "Watch added folders for changes" is on: a file
dropped into one shows in the library pane; switched off, or the session closed, nothing
watches any more."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from conftest import SAMPLES, corpus_or_skip
from PySide6.QtCore import QSettings

from docretriever.library.watching import FolderWatcher
from docretriever_ui.library_rows import NAME
from docretriever_ui.preferences import PreferencesDialog
from docretriever_ui.settings import AppSettings

WAIT_MS = 120_000


def sample(relative: str) -> Path:
    return corpus_or_skip(SAMPLES) / relative


def shown(window) -> list[str]:
    return [item.text(NAME) for item in window.library_pane.tree.items()]


def test_watching_is_on_by_default_and_the_preferences_switch_it_without_reopening(
    tmp_path: Path, qtbot
) -> None:
    settings = AppSettings(QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat))
    assert settings.watch_folders is True
    dialog = PreferencesDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.watch_check.isChecked()
    dialog.watch_check.setChecked(False)
    dialog.accept()
    assert settings.watch_folders is False
    assert dialog.changed == {"watch_folders"} and not dialog.needs_reopen


def test_a_file_dropped_into_a_followed_folder_shows_while_watching_and_not_after(
    window, ui_session, qtbot, tmp_path: Path
) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    shutil.copy(sample("022-pdfkit/pdfkit.pdf"), folder / "first.pdf")
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=WAIT_MS):
        ui_session.add([str(folder)])
    qtbot.waitUntil(lambda: shown(window) == ["first.pdf"], timeout=WAIT_MS)

    watch = ui_session.folder_watch
    assert not watch.watching  # off in the tests' settings
    watch.settle_s = 0.3
    ui_session.settings.watch_folders = True
    watch.apply()
    qtbot.waitUntil(
        lambda: watch.watcher is not None and watch.watcher.folders == [str(folder)], timeout=WAIT_MS
    )
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=WAIT_MS) as finished:
        shutil.copy(sample("004-pdflatex-4-pages/pdflatex-4-pages.pdf"), folder / "dropped.pdf")
    assert finished.args[0].count("indexed") == 1
    qtbot.waitUntil(lambda: sorted(shown(window)) == ["dropped.pdf", "first.pdf"], timeout=WAIT_MS)

    ui_session.settings.watch_folders = False
    watch.apply()
    assert not watch.watching and watch.watcher is None
    # A watcher of the test's own says when the next file has settled: by then the session's
    # would have queued it, had it still been watching.
    witness = FolderWatcher([str(folder)], settle_s=0.3)
    witness.start()
    try:
        witness.next_batch(0)
        shutil.copy(sample("026-latex-multicolumn/multicolumn.pdf"), folder / "ignored.pdf")
        batch: list[str] = []
        qtbot.waitUntil(lambda: bool(batch.extend(witness.next_batch(0.05)) or batch), timeout=WAIT_MS)
    finally:
        witness.stop()
    qtbot.waitUntil(ui_session.runner.idle, timeout=WAIT_MS)
    assert not ui_session.ingesting
    assert str(folder / "ignored.pdf") not in {p for d in ui_session.documents() for p in d.paths}


def test_closing_the_session_stops_the_watch_thread(ui_session, qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    shutil.copy(sample("022-pdfkit/pdfkit.pdf"), folder / "first.pdf")
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=WAIT_MS):
        ui_session.add([str(folder)])
    ui_session.settings.watch_folders = True
    watch = ui_session.folder_watch
    watch.apply()
    qtbot.waitUntil(
        lambda: watch.watcher is not None and watch.watcher.folders == [str(folder)], timeout=WAIT_MS
    )
    watcher = watch.watcher
    assert "folder-watch" in {thread.name for thread in threading.enumerate()}
    ui_session.close()
    assert "folder-watch" not in {thread.name for thread in threading.enumerate()}  # none left behind
    assert watcher is not None and not watcher.running
