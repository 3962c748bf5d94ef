"""The questions asked before changes to the library: removing documents (named, so that a
person sees what the key or the menu is about to act on), and quitting while indexing runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from docretriever.progress import Progress
from docretriever.vocabulary import Document
from docretriever_ui.library_rows import document_name
from docretriever_ui.session import LibrarySession

# The question before removing several documents names this many of them.
_NAMED = 5


def removal_question(documents: Sequence[Document]) -> str:
    """ "Remove “budget-2024.pdf” from the library? The file stays where it is." or, for several,
    "Remove 3 documents from the library? …" with their names."""
    if len(documents) == 1:
        return f"Remove “{document_name(documents[0])}” from the library? The file stays where it is."
    names = [f"• {document_name(document)}" for document in documents[:_NAMED]]
    if len(documents) > _NAMED:
        names.append(f"… and {len(documents) - _NAMED} more")
    listed = "\n".join(names)
    return (
        f"Remove {len(documents)} documents from the library?\n\n{listed}\n\nThe files stay where they are."
    )


def confirm_removal(parent: QWidget, documents: Sequence[Document]) -> bool:
    """Ask before removing ``documents``; True when the answer is yes."""
    if not documents:
        return False
    answer = QMessageBox.question(parent, "Remove from library", removal_question(documents))
    return answer == QMessageBox.StandardButton.Yes


def quit_question(progress: Progress | None) -> str:
    """ "Indexing is running (12 of 40 pages). Quit anyway? What is indexed so far is kept." """
    where = ""
    if progress is not None and progress.stage == "Indexing" and progress.total:
        where = f" ({progress.done:,} of {progress.total:,} pages)"
    return f"Indexing is running{where}. Quit anyway? What is indexed so far is kept."


class ProgressSource(Protocol):
    """Anything holding the latest ingest report (the status bar's IngestStatus)."""

    @property
    def progress(self) -> Progress | None: ...


class QuitGuard(QObject):
    """Asks before the window closes while an add, re-index or sync runs.

    The main window's ``closeEvent`` calls :meth:`allows_close` and ignores the close when it
    says no; the question is then open (window-modal, never blocking the event loop), and Quit
    closes the window again, this time for good. Keep indexing is the default answer.
    """

    def __init__(self, window: QWidget, session: LibrarySession, progress: ProgressSource) -> None:
        super().__init__(window)
        self._window = window
        self._session = session
        self._progress = progress
        self._confirmed = False
        self.question: QMessageBox | None = None

    def allows_close(self) -> bool:
        if self._confirmed or not self._session.ingesting:
            return True
        if self.question is None:
            self._ask()
        return False

    def _ask(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, "Quit DocRetriever", "", parent=self._window)
        box.setText(quit_question(self._progress.progress))
        box.setInformativeText("Documents not finished can be finished later from the library.")
        quit_button = box.addButton("Quit", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep indexing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _: self._answered(box.clickedButton() is quit_button))
        self.question = box
        box.open()

    def _answered(self, quit_now: bool) -> None:
        self.question = None
        if quit_now:
            self._confirmed = True
            self._window.close()
