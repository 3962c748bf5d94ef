"""The strip under the library list: everything about the selected document that a column
cannot hold (where its file is, why it failed, in full, wrapped), or a summary of the
selection or of the library when nothing is selected."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from docretriever.documents.discover import shown_path
from docretriever.progress import format_bytes
from docretriever.vocabulary import FAILED, INDEXED, PRESENT, Document, availability_note
from docretriever_ui.library_rows import added_text, document_name, needs_finishing

# A selection of several documents lists the reasons of at most this many failures.
_LISTED_FAILURES = 5


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _amount(documents: Sequence[Document]) -> str:
    pages = sum(document.page_count or 0 for document in documents)
    return f"{_plural(pages, 'page')} · {format_bytes(sum(document.size for document in documents))}"


def document_details(document: Document) -> str:
    """The rich text for one document: name, paths, size, and what went wrong, in full."""
    lines = [f"<b>{escape(document_name(document))}</b>"]
    lines += [escape(shown_path(path)) for path in document.paths]
    lines.append(f"{_amount([document])} · added {escape(added_text(document.added_at))}")
    if document.availability != PRESENT:
        lines.append(escape(availability_note(document)))
    if document.status == FAILED:
        lines.append(f"<b>Indexing failed:</b> {escape(document.error or 'no reason was recorded.')}")
    elif document.status == INDEXED and document.error:
        lines.append(f"<b>Indexed in part:</b> {escape(document.error)}")
    elif needs_finishing(document):
        lines.append("<b>Not finished:</b> indexing stopped before its last page; choose Finish indexing.")
    return "<br>".join(lines)


def selection_details(documents: Sequence[Document]) -> str:
    """The rich text for several documents: how many and how big, and each failure's reason."""
    lines = [f"<b>{_plural(len(documents), 'document')} selected</b> · {_amount(documents)}"]
    failed = [document for document in documents if document.status == FAILED]
    for document in failed[:_LISTED_FAILURES]:
        reason = escape(document.error or "no reason was recorded.")
        lines.append(f"<b>{escape(document_name(document))}</b> failed: {reason}")
    if len(failed) > _LISTED_FAILURES:
        lines.append(f"… and {len(failed) - _LISTED_FAILURES} more failed.")
    return "<br>".join(lines)


def library_summary(documents: Sequence[Document], shown: int) -> str:
    """The text when nothing is selected: the library in one line, or how to fill it."""
    if not documents:
        return "No documents yet: drop files or folders on the window, or use File → Add files…"
    text = f"{_plural(len(documents), 'document')} · {_amount(documents)}"
    if shown != len(documents):
        text += f" · {shown} shown" if shown else " · none matches the filter"
    return escape(text)


class DocumentDetails(QFrame):
    """The strip itself: a wrapped, selectable label and, for a failure recorded with
    technical details, "Copy details" (for a bug report); for a file that needs a password to
    open, "Enter password…" (``password_requested`` with its doc id)."""

    password_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._locked = ""  # the doc id "Enter password…" asks for
        self.copy_button = QPushButton("Copy details", self)
        self.copy_button.clicked.connect(self.copy_details)
        self.password_button = QPushButton("Enter password…", self)
        self.password_button.setToolTip("Type the password that opens this file, and index it")
        self.password_button.clicked.connect(lambda: self.password_requested.emit(self._locked))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.password_button)
        buttons.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.label)
        layout.addLayout(buttons)
        self._details = ""
        self.show_documents([], [], 0)

    def show_documents(self, selected: Sequence[Document], library: Sequence[Document], shown: int) -> None:
        """Describe ``selected`` (one or several); with none, sum up the ``library`` (``shown``
        of which pass the filter)."""
        if len(selected) == 1:
            self.label.setText(document_details(selected[0]))
            details = [selected[0]]
        elif selected:
            self.label.setText(selection_details(selected))
            details = list(selected)
        else:
            self.label.setText(library_summary(library, shown))
            details = []
        self._details = "\n\n".join(
            f"{shown_path(d.paths[0]) if d.paths else document_name(d)}: {d.error}\n{d.error_details}"
            for d in details
            if d.status == FAILED and d.error_details and not d.needs_password  # no bug to report
        )
        self.copy_button.setVisible(bool(self._details))
        locked = len(selected) == 1 and selected[0].needs_password and selected[0].availability == PRESENT
        self._locked = selected[0].doc_id if locked else ""
        self.password_button.setVisible(locked)

    def text(self) -> str:
        """What the strip says, as plain text (for tests and accessibility)."""
        return self.label.text()

    def copy_details(self) -> None:
        QApplication.clipboard().setText(self._details)
