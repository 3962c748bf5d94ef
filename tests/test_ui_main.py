"""The main window end to end, offscreen, with the tiny model."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import SAMPLES, corpus_or_skip
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from docretriever.errors import ModelError
from docretriever_ui.error_dialog import ErrorDialog
from docretriever_ui.main_window import MainWindow
from docretriever_ui.overlay import HighlightOverlay
from docretriever_ui.session import LibrarySession
from docretriever_ui.viewer import PageViewer


def drop(window: MainWindow, *paths: Path) -> None:
    drop_urls(window, [QUrl.fromLocalFile(str(p)) for p in paths])


def drop_urls(window: MainWindow, urls: list[QUrl]) -> None:
    """Drop ``urls`` on the window as a file manager would (a real QDropEvent)."""
    mime = QMimeData()
    mime.setUrls(urls)
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


def test_drop_index_search_and_open_the_viewer(window: MainWindow, qtbot, tmp_path: Path) -> None:
    folder = corpus_or_skip(SAMPLES) / "015-arabic"
    with qtbot.waitSignal(window.session.ingest_finished, timeout=120_000) as finished:
        drop(window, folder)
        qtbot.waitUntil(window.ingest_status.isVisible, timeout=10_000)
    assert finished.args[0].count("indexed") == 3
    qtbot.waitUntil(lambda: window.library_pane.tree.topLevelItemCount() == 3, timeout=10_000)
    assert not window.ingest_status.isVisible()
    assert "3 indexed" in window.statusBar().currentMessage()

    qtbot.keyClicks(window.search_box, "arabic script")
    qtbot.keyClick(window.search_box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.results.count() == 6, timeout=30_000)  # 6 pages in the folder
    qtbot.waitUntil(lambda: window.results.thumbnails_ready() == 6, timeout=30_000)
    scores = [hit.score for hit in window.results.hits]
    assert scores == sorted(scores, reverse=True)

    window.results.setCurrentRow(0)
    qtbot.keyClick(window.results, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: isinstance(window.viewer, PageViewer) and window.viewer.isVisible(), timeout=10_000
    )
    viewer = window.viewer
    assert viewer is not None
    qtbot.waitUntil(lambda: not viewer.page_image().isNull(), timeout=30_000)
    overlays = [item for item in viewer.findChildren(object) if isinstance(item, HighlightOverlay)]
    scene_overlays = [item for item in viewer.view.scene().items() if isinstance(item, HighlightOverlay)]
    assert overlays or scene_overlays
    with qtbot.waitSignal(viewer.current_changed, timeout=5_000):
        viewer.show_next()
    assert window.results.currentRow() == 1
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not viewer.isVisible(), timeout=5_000)

    target = Path(os.environ.get("DOCRETRIEVER_SCREENSHOT_DIR", tmp_path)) / "main-window-results.png"
    window.resize(1200, 800)
    assert window.grab().save(str(target))
    assert target.stat().st_size > 10_000


def test_cancel_an_ingest_from_the_status_bar(window: MainWindow, qtbot) -> None:
    path = corpus_or_skip(SAMPLES) / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"
    clicked = []

    def cancel_once(progress) -> None:
        if progress.stage == "Indexing" and progress.done > 0 and not clicked:
            clicked.append(True)
            qtbot.mouseClick(window.ingest_status.cancel_button, Qt.MouseButton.LeftButton)

    window.session.ingest_progress.connect(cancel_once)
    with qtbot.waitSignal(window.session.ingest_finished, timeout=120_000) as finished:
        drop(window, path)
    assert finished.args[0].cancelled
    assert "stopped" in window.statusBar().currentMessage()
    assert not window.ingest_status.isVisible()
    qtbot.waitUntil(lambda: window.library_pane.tree.topLevelItemCount() == 1, timeout=10_000)
    assert window.library_pane.tree.topLevelItem(0).text(3) == "Pending"


def test_core_errors_become_an_error_dialog(app_settings, tmp_path: Path, qtbot) -> None:
    app_settings.model = str(tmp_path / "no" / "model" / "here")
    session = LibrarySession(app_settings)  # no embedder: the model must be loaded, and fails
    window = MainWindow(session)
    qtbot.addWidget(window)
    with qtbot.waitSignal(session.ingest_finished, timeout=60_000):
        drop(window, corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf")
    qtbot.waitUntil(lambda: bool(window.findChildren(ErrorDialog)), timeout=5_000)
    dialog = window.findChildren(ErrorDialog)[0]
    assert "does not exist" in dialog.text()
    dialog.close()
    session.close()


def test_missing_model_opens_the_set_up_dialog(app_settings, tmp_path: Path, qtbot, monkeypatch) -> None:
    from docretriever_ui.app import create_window
    from docretriever_ui.model_dialog import ModelSetupDialog

    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))

    def no_hub(source, cancel=None):
        raise ModelError("The Hugging Face Hub could not be reached.")

    monkeypatch.setattr("docretriever_ui.model_dialog.plan_download", no_hub)
    app_settings.model = "vidore/colqwen2-v1.0"
    window = create_window(app_settings)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(ModelSetupDialog)), timeout=5_000)
    dialog = window.findChildren(ModelSetupDialog)[0]
    dialog.reject()
    window.close()


def test_delete_key_removes_after_confirmation(indexed_session, qtbot, monkeypatch) -> None:
    window = MainWindow(indexed_session)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.library_pane.tree.topLevelItemCount() == 3, timeout=10_000)
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    tree = window.library_pane.tree
    tree.setFocus()
    tree.topLevelItem(0).setSelected(True)
    qtbot.keyClick(tree, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: tree.topLevelItemCount() == 2, timeout=10_000)
    assert len(indexed_session.documents()) == 2


def test_shortcuts_and_remembered_layout(window: MainWindow, qtbot) -> None:
    window.results.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.search_box.hasFocus, timeout=2_000)
    window.splitter.setSizes([200, 500, 300])
    window.close()
    assert window.session.settings.geometry("panes") is not None  # library, results, preview


def test_the_library_refreshes_while_changes_keep_coming(window: MainWindow, qtbot, monkeypatch) -> None:
    refreshes = []
    monkeypatch.setattr(
        window.library_pane, "set_documents", lambda documents: refreshes.append(len(documents))
    )
    # An ingest reports changes ten times a second for as long as it runs.
    for _ in range(15):
        window.session.documents_changed.emit()
        qtbot.wait(100)
    assert len(refreshes) >= 3  # throttled to one per 300 ms, never postponed to the end
