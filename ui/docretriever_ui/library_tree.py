"""The library list itself: sortable columns, rows hidden by the filter, a refresh that keeps
the selection, the current row and the scroll position, and a context menu that acts on the
selection however it is asked for (right click, the Menu key, Shift+F10)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, Signal
from PySide6.QtGui import QContextMenuEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QHeaderView, QMenu, QTreeWidget, QWidget

from docretriever.vocabulary import Document
from docretriever_ui.library_rows import ADDED, HEADERS, NAME, PAGES, SIZE, STATUS, DocumentItem, dimmed_text

# The pane is narrow beside the results: these columns are a right click on the header away,
# and the strip under the list gives them for the selection.
HIDDEN_AT_FIRST = (SIZE, ADDED)
SORT_LABELS = ["Name", "Pages", "Size", "Status", "Date added"]  # by column


class DocumentTree(QTreeWidget):
    """Delete (or Backspace, the Mac's delete key) asks to remove the selection
    (``delete_pressed``); ``menu_requested`` carries where (global) the context menu goes.

    A menu asked for from the keyboard goes under the current row. (Qt gives a keyboard
    request the position of the current row in the list's own coordinates, which lie a header
    lower than the rows': taken as a row position it named the row below, and the menu acted on
    that one.)"""

    delete_pressed = Signal()
    menu_requested = Signal(QPoint)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(HEADERS)
        self.setRootIsDecorated(False)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # the end of a name tells files apart
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.DefaultContextMenu)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for column in (PAGES, SIZE, STATUS, ADDED):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        for column, width in ((PAGES, 48), (SIZE, 64), (STATUS, 90), (ADDED, 76)):
            header.resizeSection(column, width)
        for column in HIDDEN_AT_FIRST:
            header.setSectionHidden(column, True)
        header.setSortIndicatorShown(True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(
            lambda position: self.header_menu().popup(header.mapToGlobal(position))
        )
        self.setSortingEnabled(True)
        self.sortByColumn(ADDED, Qt.SortOrder.AscendingOrder)  # the order they were added, at first

    def header_menu(self) -> QMenu:
        """The header's menu: sort by any column (shown or not), show or hide the columns."""
        menu = QMenu(self)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.addSection("Sort by")
        for column, label in enumerate(SORT_LABELS):
            sort = menu.addAction(label, partial(self.sort_by, column))
            sort.setCheckable(True)
            sort.setChecked(column == self.sortColumn())
        menu.addSection("Columns")
        for column in (PAGES, SIZE, STATUS, ADDED):
            shown = menu.addAction(HEADERS[column])
            shown.setCheckable(True)
            shown.setChecked(not self.isColumnHidden(column))
            shown.toggled.connect(partial(self.show_column, column))
        return menu

    def sort_by(self, column: int) -> None:
        """Sort by ``column`` (shown or not), in the order the list is sorted now."""
        self.sortByColumn(column, self.header().sortIndicatorOrder())

    def show_column(self, column: int, shown: bool) -> None:
        self.setColumnHidden(column, not shown)

    # --- the rows ----------------------------------------------------------------------------

    def items(self) -> list[DocumentItem]:
        return [
            item
            for i in range(self.topLevelItemCount())
            if isinstance(item := self.topLevelItem(i), DocumentItem)
        ]

    def fill(self, documents: Sequence[Document], also_select: Iterable[str] = ()) -> None:
        """List ``documents`` again, keeping what was selected and current and the scroll
        position; ``also_select`` (doc ids) are selected too."""
        selected = {item.doc_id for item in self.items() if item.isSelected()} | set(also_select)
        current = self.currentItem()
        current_id = current.doc_id if isinstance(current, DocumentItem) else None
        scroll = self.verticalScrollBar().value()
        dimmed = dimmed_text(self.palette())
        # Sorting each row as it comes in would make a refresh quadratic: once, at the end.
        self.setSortingEnabled(False)
        self.clear()
        items = [DocumentItem(document, dimmed) for document in documents]
        self.addTopLevelItems(items)
        self.setSortingEnabled(True)
        for item in items:
            if item.doc_id == current_id:
                self.setCurrentItem(item, 0, QItemSelectionModel.SelectionFlag.NoUpdate)
            item.setSelected(item.doc_id in selected)
        self.verticalScrollBar().setValue(scroll)

    def apply_filter(self, admits: Callable[[Document], bool]) -> int:
        """Hide the rows ``admits`` refuses (and unselect them: what is not seen is not acted
        on); returns how many are shown."""
        shown = 0
        for item in self.items():
            hidden = not admits(item.document)
            item.setHidden(hidden)
            if hidden:
                item.setSelected(False)
            shown += not hidden
        return shown

    def selected_items(self) -> list[DocumentItem]:
        """The selected rows that are shown, in the list's order."""
        return [item for item in self.items() if item.isSelected() and not item.isHidden()]

    def select(self, doc_ids: Iterable[str]) -> list[DocumentItem]:
        """Select the rows of ``doc_ids`` (only those), make the first current and scroll to it;
        returns the rows found."""
        wanted = set(doc_ids)
        found = [item for item in self.items() if item.doc_id in wanted]
        self.clearSelection()
        if found:
            self.setCurrentItem(found[0], 0, QItemSelectionModel.SelectionFlag.NoUpdate)
            for item in found:
                item.setSelected(True)
            self.scrollToItem(found[0], QTreeWidget.ScrollHint.PositionAtCenter)
        return found

    # --- keys and the context menu -----------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Delete) or event.key() == Qt.Key.Key_Backspace:
            self.delete_pressed.emit()
            event.accept()
            return
        # Shift+F10 opens the context menu on Windows and in GNOME and KDE; Qt leaves it to apps.
        if event.key() == Qt.Key.Key_F10 and event.modifiers() == Qt.KeyboardModifier.ShiftModifier:
            self.keyboard_menu()
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if event.reason() != QContextMenuEvent.Reason.Mouse:
            self.keyboard_menu()
            return
        # A mouse request comes through the viewport, in the rows' coordinates.
        item = self.itemAt(event.pos())
        if item is None:
            return
        if not item.isSelected():  # a right click on a row outside the selection: that row alone
            self.setCurrentItem(item)
        else:
            self.setCurrentItem(item, 0, QItemSelectionModel.SelectionFlag.NoUpdate)
        self.menu_requested.emit(event.globalPos())

    def keyboard_menu(self) -> None:
        """Open the context menu for the selection, under the current row (selecting the current
        row first when nothing is selected)."""
        item = self.currentItem()
        if item is None or item.isHidden():
            selected = self.selected_items()
            item = selected[0] if selected else None
        if item is None:
            return
        if not item.isSelected():
            self.setCurrentItem(item)
        self.scrollToItem(item)
        rect = self.visualItemRect(item)
        self.menu_requested.emit(
            self.viewport().mapToGlobal(QPoint(rect.left() + rect.height(), rect.bottom()))
        )
