"""The library pane: every document with its pages, status (and the reason when it failed) and size.

A document whose file is not on disk now (missing, or in a folder that cannot be reached) stays
listed, dimmed and in italics, with where it was last seen in its tooltip; asking to open or
reveal it says why that cannot be done (``file_absent``) instead of trying."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QKeySequence, QPalette
from PySide6.QtWidgets import QHeaderView, QMenu, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from docretriever.library.base import availability_note
from docretriever.progress import format_bytes
from docretriever.storage import MISSING, PRESENT, UNAVAILABLE, DocumentRecord

_STATUS_TEXT = {"indexed": "Indexed", "pending": "Pending", "failed": "Failed"}
# Where the file is goes before how it was indexed: a missing file's pages are searchable still.
_AVAILABILITY_TEXT = {MISSING: "Missing", UNAVAILABLE: "Not available"}
_COLUMNS = 4


class _DocumentTree(QTreeWidget):
    """The list itself; Delete (or Backspace, the Mac's delete key) asks to remove the selection."""

    delete_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Delete) or event.key() == Qt.Key.Key_Backspace:
            self.delete_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class LibraryPane(QWidget):
    """Lists documents; asks (through signals) for removal, re-indexing, revealing and opening,
    and for forgetting the documents whose files are missing."""

    remove_requested = Signal(list)  # doc ids
    reindex_requested = Signal(str)  # doc id
    reveal_requested = Signal(str)  # path
    open_requested = Signal(str)  # path
    file_absent = Signal(str)  # open or reveal asked of a document not on disk: why it cannot be
    forget_missing_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = _DocumentTree(self)
        # Status goes last: a failure's reason may be long, and is elided there (full in the tooltip).
        self.tree.setHeaderLabels(["Document", "Pages", "Size", "Status"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.itemDoubleClicked.connect(lambda item, _: self._open(_doc_id(item)))
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(3, 90)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        self.tree.delete_pressed.connect(self._remove_selected)
        self._records: dict[str, DocumentRecord] = {}

    def set_documents(self, documents: list[DocumentRecord]) -> None:
        """Show ``documents``, keeping the selection and scroll position."""
        selected = set(self.selected_doc_ids())
        scroll = self.tree.verticalScrollBar().value()
        self.tree.clear()
        self._records = {d.doc_id: d for d in documents}
        for document in documents:
            item = self._item(document)
            self.tree.addTopLevelItem(item)
            item.setSelected(document.doc_id in selected)
        self.tree.verticalScrollBar().setValue(scroll)

    def _item(self, document: DocumentRecord) -> QTreeWidgetItem:
        path = document.paths[0] if document.paths else document.doc_id
        status = _STATUS_TEXT.get(document.status, document.status)
        if document.status == "failed" and document.error:
            status = f"Failed: {document.error}"
        item = QTreeWidgetItem(
            [Path(path).name, str(document.page_count or 0), format_bytes(document.size), status]
        )
        item.setData(0, Qt.ItemDataRole.UserRole, document.doc_id)
        item.setToolTip(0, "\n".join(document.paths))
        item.setToolTip(3, document.error or status)
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if document.availability != PRESENT:
            self._show_absent(item, document)
        return item

    def _show_absent(self, item: QTreeWidgetItem, document: DocumentRecord) -> None:
        """Dim and slant the row of a document not on disk; its tooltips say where it was."""
        note = availability_note(document)
        item.setText(3, _AVAILABILITY_TEXT[document.availability])
        dimmed = QBrush(_dimmed_text(self.palette()))
        for column in range(_COLUMNS):
            font = item.font(column)
            font.setItalic(True)
            item.setFont(column, font)
            item.setForeground(column, dimmed)
            item.setToolTip(column, note)
        if document.status == "failed" and document.error:
            item.setToolTip(3, f"{note}\nIndexing failed: {document.error}")
        if len(document.paths) > 1:
            item.setToolTip(0, note + "\nLast known places:\n" + "\n".join(document.paths))

    def missing_documents(self) -> list[DocumentRecord]:
        """The listed documents whose files are missing (not those merely out of reach)."""
        return [document for document in self._records.values() if document.availability == MISSING]

    def selected_doc_ids(self) -> list[str]:
        return [_doc_id(item) for item in self.tree.selectedItems()]

    def _open(self, doc_id: str) -> None:
        if path := self._path_on_disk(doc_id):
            self.open_requested.emit(path)

    def _reveal(self, doc_id: str) -> None:
        if path := self._path_on_disk(doc_id):
            self.reveal_requested.emit(path)

    def _path_on_disk(self, doc_id: str) -> str:
        """The document's path, or "" after saying (``file_absent``) why its file cannot be shown."""
        record = self._records.get(doc_id)
        if record is None or not record.paths:
            return ""
        if record.availability != PRESENT:
            self.file_absent.emit(availability_note(record))
            return ""
        return record.paths[0]

    def _remove_selected(self) -> None:
        doc_ids = self.selected_doc_ids()
        if doc_ids:
            self.remove_requested.emit(doc_ids)

    def _context_menu(self, position: QPoint) -> None:
        item = self.tree.itemAt(position)
        if item is None:
            return
        if not item.isSelected():
            self.tree.clearSelection()
            item.setSelected(True)
        self.context_menu(item).popup(self.tree.viewport().mapToGlobal(position))

    def context_menu(self, item: QTreeWidgetItem) -> QMenu:
        """The menu for ``item`` (and the selection it belongs to)."""
        doc_id = _doc_id(item)  # not the item: a refresh while the menu is open replaces it
        record = self._records.get(doc_id)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self._open(doc_id))
        menu.addAction("Reveal in file manager", lambda: self._reveal(doc_id))
        reindex = menu.addAction("Re-index", lambda: self.reindex_requested.emit(doc_id))
        reindex.setEnabled(record is None or record.availability == PRESENT)
        menu.addSeparator()
        menu.addAction("Remove from library", self._remove_selected)
        forget = menu.addAction("Forget missing documents…", self.forget_missing_requested.emit)
        forget.setEnabled(bool(self.missing_documents()))
        return menu


def _doc_id(item: QTreeWidgetItem) -> str:
    return str(item.data(0, Qt.ItemDataRole.UserRole))


def _dimmed_text(palette: QPalette) -> QColor:
    """Text between the text and background colours, still readable (about 4.5:1 on white, in a
    dark theme too), unlike the disabled colour, which is meant not to be read."""
    text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
    weight = 0.55
    return QColor(
        round(text.red() * weight + base.red() * (1 - weight)),
        round(text.green() * weight + base.green() * (1 - weight)),
        round(text.blue() * weight + base.blue() * (1 - weight)),
    )
