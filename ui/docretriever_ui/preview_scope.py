"""Searching within some documents from the GUI: the chip above the results that says so
("Searching in 3 documents ✕") and holds which, until its ✕ searches the whole library again.

What to search in comes from the library pane ("Search in selected documents", or a folder);
the main window passes the chip's :attr:`ScopeChip.within` to every search.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from docretriever.vocabulary import Document

# The chip's tooltip lists this many documents by name, then how many more.
_LISTED = 15


def scope_text(names: Sequence[str], description: str = "") -> str:
    """What the chip says: "Searching in budget.pdf", "Searching in 3 documents", or in what was
    described ("the folder Invoices")."""
    if description:
        return f"Searching in {description}"
    if len(names) == 1:
        return f"Searching in {names[0]}"
    return f"Searching in {len(names)} documents"


class ScopeChip(QFrame):
    """Hidden while searches cover the whole library. ``changed`` is emitted when the scope is
    set or cleared: the query shown should be run again."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.within: list[str] | None = None  # doc ids (never shown), None for the whole library
        self.setObjectName("scopeChip")
        self.setStyleSheet(
            "#scopeChip { background: #e3effc; border: 1px solid #9cc0ea; border-radius: 11px; }"
            " #scopeChip QLabel { color: #12406e; }"
        )
        self.label = QLabel(self)
        self.clear_button = QToolButton(self)
        self.clear_button.setText("✕")
        self.clear_button.setAutoRaise(True)
        self.clear_button.setToolTip("Search the whole library again")
        self.clear_button.setAccessibleName("Search the whole library again")
        self.clear_button.clicked.connect(self.clear_scope)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 1, 2, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.clear_button)
        self.hide()

    def set_scope(self, documents: Sequence[Document], description: str = "") -> None:
        """Keep searches within ``documents`` (``description``: what the chip calls them, else
        their name or count). None given: nothing changes."""
        if not documents:
            return
        self.within = [document.doc_id for document in documents]
        names = [Path(document.paths[0]).name if document.paths else "a document" for document in documents]
        self.label.setText(scope_text(names, description))
        listed = "\n".join(names[:_LISTED])
        more = f"\n… and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
        self.setToolTip(f"Searches look only at:\n{listed}{more}")
        self.label.setAccessibleName(escape(self.label.text()))
        self.show()
        self.changed.emit()

    def clear_scope(self) -> None:
        """Search the whole library again."""
        if self.within is None:
            return
        self.within = None
        self.hide()
        self.changed.emit()


def above(chip: ScopeChip, results: QWidget, parent: QWidget | None = None) -> QWidget:
    """The chip (left-aligned, hidden while unused) over ``results``, as one splitter pane."""
    column = QWidget(parent)
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    row = QHBoxLayout()
    row.setContentsMargins(4, 4, 4, 0)
    row.addWidget(chip)
    row.addStretch(1)
    layout.addLayout(row)
    layout.addWidget(results, 1)
    return column
