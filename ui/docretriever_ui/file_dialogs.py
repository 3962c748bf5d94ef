"""File and folder pickers that open where the person left the last one of the same kind.

Each kind of choice ("pdfs" for Add files / Add folder, "model" for a model folder, "library"
for the library folder) remembers its own folder in the settings: papers are usually in one
place and models in another.
"""

from __future__ import annotations

import os

from PySide6.QtWidgets import QFileDialog, QWidget

from docretriever_ui.settings import AppSettings

PDF_FILTER = "PDF documents (*.pdf);;All files (*)"


def choose_pdf_files(parent: QWidget, settings: AppSettings) -> list[str]:
    """PDF files to add ([] when cancelled); their folder is where the next picker opens."""
    paths, _ = QFileDialog.getOpenFileNames(parent, "Add PDF files", settings.last_folder("pdfs"), PDF_FILTER)
    if paths:
        settings.set_last_folder("pdfs", os.path.dirname(paths[0]))
    return list(paths)


def choose_pdf_folder(parent: QWidget, settings: AppSettings) -> str:
    """A folder of PDFs to add ("" when cancelled); the next picker opens beside it."""
    folder = QFileDialog.getExistingDirectory(parent, "Add a folder of PDFs", settings.last_folder("pdfs"))
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
