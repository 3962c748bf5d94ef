"""The library pane: every document with its pages, status (and the reason when it failed) and size."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QHeaderView, QMenu, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from docretriever.progress import format_bytes
from docretriever.storage import DocumentRecord

_STATUS_TEXT = {"indexed": "Indexed", "pending": "Pending", "failed": "Failed"}


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
    """Lists documents; asks (through signals) for removal, re-indexing, revealing and opening."""

    remove_requested = Signal(list)  # doc ids
    reindex_requested = Signal(str)  # doc id
    reveal_requested = Signal(str)  # path
    open_requested = Signal(str)  # path

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
        self.tree.itemDoubleClicked.connect(lambda item, _: self.open_requested.emit(self._path(item)))
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
            self.tree.addTopLevelItem(item)
            item.setSelected(document.doc_id in selected)
        self.tree.verticalScrollBar().setValue(scroll)

    def selected_doc_ids(self) -> list[str]:
        return [str(item.data(0, Qt.ItemDataRole.UserRole)) for item in self.tree.selectedItems()]

    def _path(self, item: QTreeWidgetItem) -> str:
        record = self._records.get(str(item.data(0, Qt.ItemDataRole.UserRole)))
        return record.paths[0] if record and record.paths else ""

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
        doc_id = str(item.data(0, Qt.ItemDataRole.UserRole))
        path = self._path(item)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_requested.emit(path))
        menu.addAction("Reveal in file manager", lambda: self.reveal_requested.emit(path))
        menu.addAction("Re-index", lambda: self.reindex_requested.emit(doc_id))
        menu.addSeparator()
        menu.addAction("Remove from library", self._remove_selected)
        menu.popup(self.tree.viewport().mapToGlobal(position))
