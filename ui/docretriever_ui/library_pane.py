"""The library pane: a filter over the list of documents (by name or folder, and by status),
the list itself (sortable by name, pages, size, status and date added), and under it what the
list cannot hold: where the selected document's file is and, in full, why it failed.

A document whose file is not on disk now (missing, or in a folder that cannot be reached) stays
listed, dimmed and in italics, with where it was last seen in its tooltip; asking to open or
reveal it says why that cannot be done (``file_absent``) instead of trying."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QByteArray, QPoint, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QMenu, QTreeWidgetItem, QVBoxLayout, QWidget

from docretriever.vocabulary import FAILED, MISSING, PRESENT, Document, availability_note
from docretriever_ui.library_details import DocumentDetails
from docretriever_ui.library_rows import DOC_ID_ROLE, StatusFilter, matches_text, needs_finishing
from docretriever_ui.library_tree import DocumentTree
from docretriever_ui.settings import AppSettings

# Where the list's column widths and sort order are remembered (AppSettings.geometry).
HEADER_STATE_KEY = "library-header"


class LibraryPane(QWidget):
    """Lists documents; asks (through signals) for removal, re-indexing, finishing an
    interrupted indexing, revealing and opening, and for forgetting the documents whose files
    are missing. Every action acts on the selected rows that are shown; ``context_menu`` and
    ``show_documents`` are the ways in for other panes."""

    remove_requested = Signal(list)  # doc ids
    reindex_requested = Signal(str)  # doc id
    finish_requested = Signal(list)  # doc ids of documents whose indexing was interrupted
    reveal_requested = Signal(str)  # path
    open_requested = Signal(str)  # path
    file_absent = Signal(str)  # open or reveal asked of a document not on disk: why it cannot be
    forget_missing_requested = Signal()
    search_within_requested = Signal(list, str)  # doc ids, and words naming them ("" for none)
    documents_listed = Signal()  # after every refresh of the list
    password_requested = Signal(str)  # doc id of a file that needs a password to open

    def __init__(self, parent: QWidget | None = None, settings: AppSettings | None = None) -> None:
        super().__init__(parent)
        self.filter_box = QLineEdit(self)
        self.filter_box.setPlaceholderText("Filter by name")
        self.filter_box.setToolTip("Shows only the documents whose name or folder contains this text")
        self.filter_box.setClearButtonEnabled(True)
        self.status_filter = QComboBox(self)
        for choice in StatusFilter:
            self.status_filter.addItem(choice.value, choice)
        missing = self.status_filter.findData(StatusFilter.MISSING)
        self.status_filter.setItemData(
            missing, "Missing, or on a drive or share that is not connected", Qt.ItemDataRole.ToolTipRole
        )
        self.status_filter.setToolTip("Show only the documents in this state")
        self.tree = DocumentTree(self)
        self.details = DocumentDetails(self)
        filters = QHBoxLayout()
        filters.addWidget(self.filter_box, 1)
        filters.addWidget(self.status_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.details)
        self._records: dict[str, Document] = {}
        self._shown = 0
        self._to_select: set[str] = set()  # asked to be shown before the list had them
        self._settings = settings
        self.filter_box.textChanged.connect(self._apply_filter)
        self.status_filter.currentIndexChanged.connect(self._apply_filter)
        self.tree.delete_pressed.connect(self._remove_selected)
        self.tree.menu_requested.connect(self._popup_menu)
        self.tree.itemActivated.connect(lambda item, _: self._open(_doc_id(item)))  # Enter, double click
        self.tree.itemSelectionChanged.connect(self._describe_selection)
        self.details.password_requested.connect(self.password_requested)
        self._restore_header()

    # --- the list ----------------------------------------------------------------------------

    def set_documents(self, documents: list[Document]) -> None:
        """Show ``documents``, keeping the filter, the sort order, the selection and the scroll
        position."""
        self._records = {d.doc_id: d for d in documents}
        late = self._to_select & self._records.keys()
        self._to_select -= late
        self.tree.fill(documents, also_select=late)
        self._apply_filter()
        if late:
            self.tree.select(late | set(self.selected_doc_ids()))
        self.documents_listed.emit()

    def documents(self) -> list[Document]:
        """Every listed document (shown or filtered out)."""
        return list(self._records.values())

    def records(self, doc_ids: Iterable[str]) -> list[Document]:
        """The listed documents of ``doc_ids``, in that order (those no longer listed left out)."""
        return [self._records[doc_id] for doc_id in doc_ids if doc_id in self._records]

    def missing_documents(self) -> list[Document]:
        """The listed documents whose files are missing (not those merely out of reach)."""
        return [document for document in self._records.values() if document.availability == MISSING]

    def unfinished_documents(self) -> list[Document]:
        """The documents whose indexing stopped before their last page and whose file is here."""
        return [document for document in self._records.values() if needs_finishing(document)]

    def failed_documents(self) -> list[Document]:
        """The listed documents no page of which could be indexed."""
        return [document for document in self._records.values() if document.status == FAILED]

    def selected_doc_ids(self) -> list[str]:
        return [item.doc_id for item in self.tree.selected_items()]

    def show_documents(self, doc_ids: Iterable[str], *, reveal: bool = False) -> None:
        """Select the documents of ``doc_ids`` and scroll to them (the failed files of an add,
        say); those not listed yet are selected when they are. ``reveal`` also clears the
        filters that hide them and puts the keyboard focus on the list."""
        wanted = set(doc_ids)
        if reveal:
            hidden = [d for d in self.records(wanted) if not self._admits(d)]
            if hidden:
                self.filter_box.clear()
                self.status_filter.setCurrentIndex(0)
            self.tree.setFocus()
        found = {item.doc_id for item in self.tree.select(wanted)}
        self._to_select = wanted - found

    def _admits(self, document: Document) -> bool:
        choice = self.status_filter.currentData()
        status = choice if isinstance(choice, StatusFilter) else StatusFilter.ALL
        return status.admits(document) and matches_text(document, self.filter_box.text())

    def _apply_filter(self) -> None:
        self._shown = self.tree.apply_filter(self._admits)
        # Each choice says how many it would show, so that "Failed (2)" is seen without choosing it.
        documents = self._records.values()
        for index in range(self.status_filter.count()):
            choice = self.status_filter.itemData(index)
            if isinstance(choice, StatusFilter) and choice is not StatusFilter.ALL:
                count = sum(1 for document in documents if choice.admits(document))
                self.status_filter.setItemText(index, f"{choice.value} ({count})")
        self._describe_selection()

    def _describe_selection(self) -> None:
        selected = [item.document for item in self.tree.selected_items()]
        self.details.show_documents(selected, self.documents(), self._shown)

    def _restore_header(self) -> None:
        header = self.tree.header()
        if self._settings is not None:
            state = self._settings.geometry(HEADER_STATE_KEY)
            if state is not None:
                header.restoreState(state)
            header.sortIndicatorChanged.connect(self._save_header)
            header.sectionResized.connect(self._save_header)

    def _save_header(self) -> None:
        if self._settings is not None:
            self._settings.set_geometry(HEADER_STATE_KEY, QByteArray(self.tree.header().saveState()))

    # --- actions -----------------------------------------------------------------------------

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

    def _popup_menu(self, position: QPoint) -> None:
        item = self.tree.currentItem()
        if item is None:
            return
        menu = self.context_menu(item)
        menu.aboutToHide.connect(menu.deleteLater)  # later: its chosen action runs first
        menu.popup(position)

    def context_menu(self, item: QTreeWidgetItem) -> QMenu:
        """The menu for ``item``: it acts on the selection when ``item`` is in it, on ``item``
        alone otherwise. Open and Reveal need a single document."""
        doc_id = _doc_id(item)  # not the item: a refresh while the menu is open replaces it
        chosen = self.selected_doc_ids() if item.isSelected() else [doc_id]
        targets = self.records(chosen) or self.records([doc_id])
        several = len(targets) > 1
        count = f" {len(targets)} documents" if several else ""
        menu = QMenu(self)
        menu.addAction("Open", lambda: self._open(doc_id)).setEnabled(not several)
        menu.addAction("Reveal in file manager", lambda: self._reveal(doc_id)).setEnabled(not several)
        present = [d.doc_id for d in targets if d.availability == PRESENT]
        reindex = menu.addAction(f"Re-index{count}", lambda: self._reindex(present))
        reindex.setEnabled(bool(present))
        unfinished = [d.doc_id for d in targets if needs_finishing(d)]
        if unfinished:
            several_unfinished = f" ({len(unfinished)} documents)" if len(unfinished) > 1 else ""
            finish = f"Finish indexing{several_unfinished}"
            menu.addAction(finish, lambda: self.finish_requested.emit(unfinished))
        if len(targets) == 1 and targets[0].needs_password and targets[0].availability == PRESENT:
            menu.addAction("Enter password…", lambda: self.password_requested.emit(doc_id))
        ids = [d.doc_id for d in targets]
        searchable = [d.doc_id for d in targets if d.status == "indexed"]
        within = menu.addAction(
            f"Search in{count or ' this document'}", lambda: self.search_within_requested.emit(searchable, "")
        )
        within.setEnabled(bool(searchable))
        menu.addSeparator()
        menu.addAction(f"Remove{count} from library…", lambda: self.remove_requested.emit(ids))
        forget = menu.addAction("Forget missing documents…", self.forget_missing_requested.emit)
        forget.setEnabled(bool(self.missing_documents()))
        return menu

    def _reindex(self, doc_ids: list[str]) -> None:
        for doc_id in doc_ids:
            self.reindex_requested.emit(doc_id)


def _doc_id(item: QTreeWidgetItem) -> str:
    return str(item.data(0, DOC_ID_ROLE))
