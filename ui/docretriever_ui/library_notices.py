"""Notices about the library that stay in the status bar until acted on, unlike its messages,
which fade after a few seconds:

* "3 documents were not finished · Finish indexing": documents whose indexing stopped before
  their last page (Cancel, or the app quit during an add or a re-index) and whose files are
  here. Shown at start and after each ingest, never during one (its own documents are
  unfinished while it runs). Finishing adds their files again: only the pages not stored yet
  are embedded.
* "2 failed · Show": the files the last adds could not index. After each add they are also
  selected in the list (which says why each failed); the notice stays until Show is clicked or
  they are indexed or removed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from docretriever.library import AddReport
from docretriever.vocabulary import FAILED, INDEXED
from docretriever_ui.library_pane import LibraryPane
from docretriever_ui.session import LibrarySession
from docretriever_ui.tasks import TaskError

ATTENTION_STYLE = "QLabel { color: #9a3412; }"


def unfinished_text(count: int) -> str:
    return f"{count} document{'s were' if count != 1 else ' was'} not finished"


def failed_doc_ids(outcome: AddReport | TaskError) -> list[str]:
    """The documents an ingest listed as failed (files that never became a document, such as a
    name that is not valid UTF-8, are in the error box instead)."""
    if not isinstance(outcome, AddReport):
        return []
    return [o.doc_id for o in outcome.outcomes if o.status == FAILED and o.doc_id is not None]


class LibraryNotices(QWidget):
    """The two notices (see the module docstring), each a line and a button; hidden when both
    are. Listens to the session (ingests) and the pane (each refresh of the list)."""

    def __init__(self, session: LibrarySession, pane: LibraryPane, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.pane = pane
        self.unfinished_label = QLabel(self)
        self.finish_button = QToolButton(self)
        self.finish_button.setText("Finish indexing")
        self.finish_button.setToolTip("Index the pages these documents are missing")
        self.failed_label = QLabel(self)
        self.failed_label.setStyleSheet(ATTENTION_STYLE)
        self.show_failed_button = QToolButton(self)
        self.show_failed_button.setText("Show")
        self.show_failed_button.setToolTip("Select them in the library, which says why each failed")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.unfinished_label, self.finish_button, self.failed_label, self.show_failed_button):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignVCenter)
        self._failed: list[str] = []  # not seen yet
        self._listed_once: set[str] = set()  # of those, the ones the list has shown
        self.finish_button.clicked.connect(self.finish_indexing)
        self.show_failed_button.clicked.connect(self.show_failed)
        session.ingest_started.connect(self.update_notices)
        session.ingest_finished.connect(self._ingest_finished)
        pane.documents_listed.connect(self.update_notices)
        self.update_notices()

    def unfinished(self) -> list[str]:
        """The doc ids the "not finished" notice offers to finish (none while indexing)."""
        if self.session.ingesting:
            return []
        return [document.doc_id for document in self.pane.unfinished_documents()]

    def failed(self) -> list[str]:
        """The failed documents not seen yet."""
        return list(self._failed)

    def finish_indexing(self) -> None:
        doc_ids = self.unfinished()
        if doc_ids:
            self.session.finish_indexing(doc_ids)

    def show_failed(self) -> None:
        self.pane.show_documents(self._failed, reveal=True)
        self._failed = []
        self.update_notices()

    def _ingest_finished(self, outcome: AddReport | TaskError) -> None:
        failed = failed_doc_ids(outcome)
        if failed:
            self._failed += [doc_id for doc_id in failed if doc_id not in self._failed]
            self.pane.show_documents(failed)  # selected and scrolled to, once they are listed
        self.update_notices()

    def update_notices(self) -> None:
        listed = {document.doc_id: document for document in self.pane.documents()}
        self._listed_once.update(doc_id for doc_id in self._failed if doc_id in listed)
        # Dropped once indexed (a retry worked) or removed; kept while the list has not caught
        # up with the ingest yet (not listed so far, or still "pending" there).
        self._failed = [
            doc_id
            for doc_id in self._failed
            if (doc_id in listed and listed[doc_id].status != INDEXED)
            or (doc_id not in listed and doc_id not in self._listed_once)
        ]
        unfinished = len(self.unfinished())
        self.unfinished_label.setText(unfinished_text(unfinished))
        self.unfinished_label.setVisible(bool(unfinished))
        self.finish_button.setVisible(bool(unfinished))
        count = len(self._failed)
        self.failed_label.setText(f"{count} failed")
        self.failed_label.setVisible(bool(count))
        self.show_failed_button.setVisible(bool(count))
        self.setVisible(bool(unfinished or count))
