"""Issue 15, part 3 in the GUI: dropped paths that cannot be used are shown, each with its reason."""

from __future__ import annotations

import os
from pathlib import Path

import pymupdf
import pytest
from PySide6.QtCore import QUrl
from test_ui_main import drop_urls

from docretriever.documents import UNDECODABLE_NAME
from docretriever_ui.error_dialog import ErrorDialog
from docretriever_ui.main_window import MainWindow, local_path
from docretriever_ui.session import LibrarySession

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX file names are bytes")


def write_pdf(path: bytes, text: str) -> None:
    document = pymupdf.open()
    document.new_page().insert_text((72, 72), text)
    with open(path, "wb") as handle:
        handle.write(document.tobytes())


def file_url(path: bytes) -> QUrl:
    """The URL a file manager puts in a drop: the name's bytes percent-encoded."""
    from urllib.parse import quote_from_bytes

    return QUrl.fromEncoded(b"file://" + quote_from_bytes(path).encode("ascii"))


def test_local_path_keeps_the_bytes_of_a_name() -> None:
    assert local_path(file_url(b"/tmp/sample\xf0.pdf")) == os.fsdecode(b"/tmp/sample\xf0.pdf")
    assert local_path(file_url("/tmp/café ü.pdf".encode())) == "/tmp/café ü.pdf"
    assert local_path(QUrl.fromLocalFile("/tmp/a b/c.pdf")) == "/tmp/a b/c.pdf"


def test_unusable_dropped_paths_are_shown(ui_session: LibrarySession, qtbot, tmp_path: Path) -> None:
    window = MainWindow(ui_session)
    qtbot.addWidget(window)
    window.show()
    folder = os.fsencode(tmp_path)
    good, bad, missing = (folder + name for name in (b"/good.pdf", b"/sample\xf0.pdf", b"/gone\xf1.pdf"))
    write_pdf(good, "good")
    write_pdf(bad, "bad")
    with qtbot.waitSignal(window.session.ingest_finished, timeout=120_000) as finished:
        drop_urls(window, [file_url(good), file_url(bad), file_url(missing)])
    report = finished.args[0]
    assert report.count("indexed") == 1
    message = window.statusBar().currentMessage()
    assert "1 indexed" in message and "2 could not be used" in message
    assert "see the library list" not in message  # the failed file is not in it

    qtbot.waitUntil(lambda: bool(window.findChildren(ErrorDialog)), timeout=5_000)
    dialog = window.findChildren(ErrorDialog)[0]
    text = dialog.text()
    assert text.startswith("2 of the given paths could not be used")
    assert f"{tmp_path}/sample\\xf0.pdf: {UNDECODABLE_NAME}" in text
    assert f"{tmp_path}/gone\\xf1.pdf: does not exist" in text
    assert f"{tmp_path}/sample\\xf0.pdf" in dialog.error.details
    dialog.close()
    qtbot.waitUntil(lambda: window.library_pane.tree.topLevelItemCount() == 1, timeout=10_000)
