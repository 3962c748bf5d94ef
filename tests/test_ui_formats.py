"""The main window with documents that are not PDFs: a folder of images dropped on it is indexed
(a damaged one failing alone), its pages found and shown; the file dialog offers every type."""

from __future__ import annotations

from pathlib import Path

import pytest
from document_samples import save_with_orientation, text_image, write_tiff
from PySide6.QtWidgets import QFileDialog
from test_ui_main import drop

from docretriever_ui.main_window import MainWindow


def test_a_dropped_folder_of_images_is_indexed_searched_and_shown(
    window: MainWindow, qtbot, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    text_image("a scanned letter").save(folder / "letter.png")
    save_with_orientation(folder / "IMG_2041.JPG", text_image("a whiteboard", (640, 480)), 8)
    write_tiff(folder / "fax.tif", [text_image("fax one"), text_image("fax two")])
    (folder / "cut.png").write_bytes((folder / "letter.png").read_bytes()[:400])
    with qtbot.waitSignal(window.session.ingest_finished, timeout=120_000) as finished:
        drop(window, folder)  # the path a drop takes, as a file manager would drop it
    report = finished.args[0]
    assert report.count("indexed") == 3 and report.count("failed") == 1
    qtbot.waitUntil(lambda: window.library_pane.tree.topLevelItemCount() == 4, timeout=10_000)

    qtbot.keyClicks(window.search_box, "a whiteboard")
    qtbot.keyClick(window.search_box, "\r")
    qtbot.waitUntil(lambda: window.results.count() == 4, timeout=30_000)  # 1 + 1 + 2 pages
    qtbot.waitUntil(lambda: window.results.thumbnails_ready() == 4, timeout=30_000)
    photo = next(hit for hit in window.results.hits if hit.path.endswith("IMG_2041.JPG"))
    assert photo.page_size[0] > photo.page_size[1]  # stored as portrait pixels, shown as taken


def test_the_file_dialog_offers_images_and_office_files(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    offered: list[str] = []

    def open_names(parent, caption, folder, filters):
        offered.append(filters)
        return [], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(open_names))
    window.choose_files()
    (filters,) = offered
    first = filters.split(";;")[0]  # the one shown: every kind the library reads
    for pattern in ("*.pdf", "*.png", "*.jpg", "*.JPG", "*.jpeg", "*.tif", "*.tiff", "*.webp", "*.bmp"):
        assert pattern in first.split("(")[1].rstrip(")").split(), pattern
    assert "*.docx" in first and "*.epub" in first and "*.xps" in first
    assert filters.split(";;")[-1] == "All files (*)"
