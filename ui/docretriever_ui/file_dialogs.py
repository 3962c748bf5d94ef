"""File and folder pickers that open where the person left the last one of the same kind.

Each kind of choice ("pdfs" for Add files / Add folder of documents, "model" for a model folder, "library"
for the library folder) remembers its own folder in the settings: papers are usually in one
place and models in another.
"""

from __future__ import annotations

import os

from PySide6.QtWidgets import QFileDialog, QWidget

from docretriever.documents.formats import (
    DOCUMENT_EXTENSIONS,
    IMAGE_EXTENSIONS,
    OFFICE_EXTENSIONS,
    PAGES_EXTENSIONS,
)
from docretriever_ui.settings import AppSettings


def _patterns(extensions: frozenset[str]) -> str:
    # Both cases: on Linux the dialog's patterns are case-sensitive, and cameras write .JPG.
    return " ".join(f"*{e} *{e.upper()}" for e in sorted(extensions))


# Every kind the library reads first (the one shown), then each family, then anything (a file
# given by name is taken whatever its extension and checked by its content).
DOCUMENT_FILTER = ";;".join(
    [
        f"Documents ({_patterns(DOCUMENT_EXTENSIONS)})",
        "PDF documents (*.pdf *.PDF)",
        f"Images ({_patterns(IMAGE_EXTENSIONS)})",
        f"Office files, with LibreOffice ({_patterns(OFFICE_EXTENSIONS)})",
        f"E-books, XPS and drawings ({_patterns(PAGES_EXTENSIONS)})",
        "All files (*)",
    ]
)


def choose_document_files(parent: QWidget, settings: AppSettings) -> list[str]:
    """Document files to add (PDFs, images, Office files...; [] when cancelled); their folder is
    where the next picker opens."""
    paths, _ = QFileDialog.getOpenFileNames(
        parent, "Add documents", settings.last_folder("pdfs"), DOCUMENT_FILTER
    )
    if paths:
        settings.set_last_folder("pdfs", os.path.dirname(paths[0]))
    return list(paths)


def choose_document_folder(parent: QWidget, settings: AppSettings) -> str:
    """A folder of documents to add ("" when cancelled); the next picker opens beside it."""
    folder = QFileDialog.getExistingDirectory(
        parent, "Add a folder of documents", settings.last_folder("pdfs")
    )
    if folder:
        # Its parent: the next folder added is more often a sibling than a subfolder.
        settings.set_last_folder("pdfs", os.path.dirname(os.path.normpath(folder)) or folder)
    return folder


def choose_folder(parent: QWidget, settings: AppSettings, purpose: str, title: str, start: str = "") -> str:
    """A folder for ``purpose`` ("model", "library"): opens at ``start`` when given (the field's
    current folder), else where the last one was chosen. "" when cancelled."""
    folder = QFileDialog.getExistingDirectory(parent, title, start or settings.last_folder(purpose))
    if folder:
        settings.set_last_folder(purpose, os.path.dirname(os.path.normpath(folder)) or folder)
    return folder
