"""One row of the library list: what each column says, how the row sorts, whether it passes the
filter, and how a document whose file is not on disk looks (dimmed, in italics)."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QTreeWidgetItem

from docretriever.progress import format_bytes
from docretriever.vocabulary import (
    FAILED,
    INDEXED,
    MISSING,
    PENDING,
    PRESENT,
    UNAVAILABLE,
    Document,
    availability_note,
)

NAME, PAGES, SIZE, STATUS, ADDED = range(5)
HEADERS = ["Document", "Pages", "Size", "Status", "Added"]
DOC_ID_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1

_STATUS_TEXT = {INDEXED: "Indexed", PENDING: "Pending", FAILED: "Failed"}
# Where the file is goes before how it was indexed: a missing file's pages are searchable still.
_AVAILABILITY_TEXT = {MISSING: "Missing", UNAVAILABLE: "Not available"}
# Sorting by status puts what needs attention first.
_STATUS_RANK = {"Failed": 0, "Pending": 1, "Missing": 2, "Not available": 3, "Indexed": 4}


class StatusFilter(Enum):
    """The choices of the status filter above the list (the value is what the list shows)."""

    ALL = "All"
    FAILED = "Failed"
    PENDING = "Pending"
    MISSING = "Missing"  # or not available: on a drive that is not connected

    def admits(self, document: Document) -> bool:
        if self is StatusFilter.FAILED:
            return document.status == FAILED
        if self is StatusFilter.PENDING:
            return document.status == PENDING
        if self is StatusFilter.MISSING:
            return document.availability != PRESENT
        return True


def document_name(document: Document) -> str:
    """The file name a person knows the document by (of its first known path)."""
    return Path(document.paths[0]).name if document.paths else "(no file)"


def status_text(document: Document) -> str:
    """ "Indexed", "Pending", "Failed", "Missing" or "Not available"; the reason of a failure is
    in the tooltip and under the list, never cut short in the column."""
    if document.availability != PRESENT:
        return _AVAILABILITY_TEXT[document.availability]
    return _STATUS_TEXT.get(document.status, document.status.capitalize())


def added_text(added_at: float) -> str:
    """The day a document was added, "2025-03-14": the form the library's other dates take
    ("Missing since 2025-03-14 10:02"), and one that sorts and reads the same everywhere."""
    return time.strftime("%Y-%m-%d", time.localtime(added_at))


def matches_text(document: Document, text: str) -> bool:
    """Whether the filter text (any case) is in the document's name or one of its paths."""
    needle = text.strip().casefold()
    return not needle or any(needle in path.casefold() for path in document.paths)


def needs_finishing(document: Document) -> bool:
    """A document whose indexing was interrupted and can be finished: pending, file on disk."""
    return document.status == PENDING and document.availability == PRESENT


class DocumentItem(QTreeWidgetItem):
    """A row; sorts by what its column means (pages as numbers, status by urgency, date by
    time), not by the text shown."""

    def __init__(self, document: Document, dimmed: QColor) -> None:
        status = status_text(document)
        super().__init__(
            [
                document_name(document),
                str(document.page_count or 0),
                format_bytes(document.size),
                status,
                added_text(document.added_at),
            ]
        )
        self.document = document
        self.setData(NAME, DOC_ID_ROLE, document.doc_id)
        name = document_name(document).casefold()
        keys = {
            NAME: (name, document.paths),
            PAGES: (document.page_count or 0, name),
            SIZE: (document.size, name),
            STATUS: (_STATUS_RANK.get(status, 5), name),
            ADDED: (document.added_at, name),
        }
        for column, key in keys.items():
            self.setData(column, SORT_ROLE, key)
        for column in (PAGES, SIZE):
            self.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setToolTip(NAME, "\n".join(document.paths))
        self.setToolTip(STATUS, document.error or status)
        if document.availability != PRESENT:
            self._show_absent(dimmed)

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        column = self.treeWidget().sortColumn() if self.treeWidget() is not None else NAME
        mine, theirs = self.data(column, SORT_ROLE), other.data(column, SORT_ROLE)
        if mine is None or theirs is None:
            return super().__lt__(other)
        return bool(mine < theirs)

    @property
    def doc_id(self) -> str:
        return self.document.doc_id

    def _show_absent(self, dimmed: QColor) -> None:
        """Dim and slant the row of a document not on disk; its tooltips say where it was."""
        document = self.document
        note = availability_note(document)
        brush = QBrush(dimmed)
        for column in range(len(HEADERS)):
            font = self.font(column)
            font.setItalic(True)
            self.setFont(column, font)
            self.setForeground(column, brush)
            self.setToolTip(column, note)
        if document.status == FAILED and document.error:
            self.setToolTip(STATUS, f"{note}\nIndexing failed: {document.error}")
        if len(document.paths) > 1:
            self.setToolTip(NAME, note + "\nLast known places:\n" + "\n".join(document.paths))


def dimmed_text(palette: QPalette) -> QColor:
    """Text between the text and background colours, still readable (about 4.5:1 on white, in a
    dark theme too), unlike the disabled colour, which is meant not to be read."""
    text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
    weight = 0.55
    return QColor(
        round(text.red() * weight + base.red() * (1 - weight)),
        round(text.green() * weight + base.green() * (1 - weight)),
        round(text.blue() * weight + base.blue() * (1 - weight)),
    )
