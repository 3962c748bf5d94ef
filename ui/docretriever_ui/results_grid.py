"""Search results as a grid of page cards with the matched regions drawn in.

``hits`` stays in the order the search returned them, best first: the viewer walks that order
with Left/Right. What the grid *shows* is either that order, another one (by document name, by
when the document was added), or the hits grouped by document, each group with its best pages
first and a "more" card for the rest. Every card knows its hit (``HIT_ROLE``), so
``hit_activated``, :meth:`select_hit` and ``current_hit_changed`` speak in indices into ``hits``
whatever is shown; in the default view (flat, by relevance) a card's row is its hit's index.

A hit whose file is not on disk (``Hit.missing``) gets a blank page marked "File missing"
instead of a thumbnail: its page was found from its stored vectors, but cannot be drawn."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QContextMenuEvent, QKeyEvent, QPainter, QPaintEvent, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QMenu, QWidget

from docretriever.library import Hit
from docretriever_ui import results_cards as cards
from docretriever_ui.results_cards import (
    MISSING_MARK,
    MISSING_ROLE,
    ResultCardDelegate,
    card_item,
    make_tile,
    marked_tile,
    thumbnail_size,
)
from docretriever_ui.results_menu import CardActions, card_menu
from docretriever_ui.results_order import (
    GROUP_PREVIEW,
    NO_DOCUMENTS_HINT,
    SortOrder,
    display_order,
    group_hits,
)
from docretriever_ui.results_thumbnails import PageKey, ThumbnailLoader, page_key, pixels_for
from docretriever_ui.session import LibrarySession

__all__ = ["MISSING_MARK", "MISSING_ROLE", "ResultsGrid"]

SPACING = 6
SETTLE_MS = 150  # thumbnails are asked for again once the size has stopped changing this long
NOT_DRAWN_MARK = "Could not be shown"
_GROUP_POSITION_ROLE = Qt.ItemDataRole.UserRole + 30  # cards when grouped: 0 for a group's best page


class ResultsGrid(QListWidget):
    """Cards of hits; Enter or double-click opens one (``hit_activated``), the context menu offers
    the rest (``open_requested``, ``reveal_requested``, ``show_in_library_requested``)."""

    hit_activated = Signal(int)  # index into ``hits``
    current_hit_changed = Signal(int)  # index into ``hits`` of the current card; -1 for none
    hits_changed = Signal()  # ``hits`` were replaced (a search, a refresh, documents removed)
    thumbnail_width_changed = Signal(int)
    thumbnail_failed = Signal()  # a page could not be drawn: its document may have gone
    open_requested = Signal(str, int)  # path, page: open the file in a PDF viewer at the page
    reveal_requested = Signal(str)  # path
    show_in_library_requested = Signal(str)  # the document's id (for the library pane; never shown)
    more_like_requested = Signal(object)  # the Hit whose page the pages like it are wanted for

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.hits: list[Hit] = []
        self.order = SortOrder.RELEVANCE
        self.grouped = False
        self.added_at: dict[str, float] = {}  # doc id -> when it was added (for that order)
        self.empty_text = NO_DOCUMENTS_HINT
        self._collapsed: set[str] = set()  # groups folded by their header
        self._showing_all: set[str] = set()  # groups whose "more" card was clicked
        self._card_rows: dict[int, int] = {}  # hit index -> row
        self._failed: set[PageKey] = set()
        self._rebuilding = False
        self._wheel = 0  # Ctrl+wheel steps not yet applied (touchpads send small deltas)
        self.delegate = ResultCardDelegate(self)
        self.setItemDelegate(self.delegate)
        self.loader = ThumbnailLoader(session, self)
        self.loader.ready.connect(self._thumbnail_ready)
        self.loader.failed.connect(self._thumbnail_failed)
        self._settle = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settle.timeout.connect(self._request_thumbnails)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setSpacing(SPACING)
        self.setUniformItemSizes(False)  # headers span the row; cards do not
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)  # the hover frame
        self.itemActivated.connect(self._activated)
        self.itemClicked.connect(self._clicked)
        self.currentItemChanged.connect(self._current_changed)

    # --- showing hits -------------------------------------------------------------------------

    def show_hits(self, hits: list[Hit], keep_view: bool = False) -> None:
        """Show ``hits`` (best first); thumbnails arrive as they are rendered. ``keep_view`` (the
        same search again, after the library changed) keeps the current page, the groups
        opened or folded, and the scroll position."""
        selected = self._current_key() if keep_view else None
        scroll = self.verticalScrollBar().value() if keep_view else None
        self.loader.start(hits[0].query.text if hits else None)
        if not keep_view:
            self._collapsed.clear()
            self._showing_all.clear()
            self._failed.clear()
        self.hits = list(hits)
        self._rebuild(selected, scroll)
        self._request_thumbnails()
        self.hits_changed.emit()

    def keep_documents(self, present: set[str]) -> bool:
        """Drop the cards of documents not in ``present`` (removed from the library since the
        search): opening one would find nothing. True when some were dropped."""
        kept = [hit for hit in self.hits if hit.doc_id in present]
        if len(kept) == len(self.hits):
            return False
        self.show_hits(kept, keep_view=True)
        return True

    def set_order(self, order: SortOrder) -> None:
        if order is not self.order:
            self.order = order
            self._rebuild(self._current_key(), None)

    def set_grouped(self, grouped: bool) -> None:
        if grouped != self.grouped:
            self.grouped = grouped
            self.delegate.show_names = not grouped
            self._rebuild(self._current_key(), None)

    def _rebuild(self, selected: PageKey | None, scroll: int | None) -> None:
        self._rebuilding = True  # no current_hit_changed for each item cleared and added
        try:
            self.clear()
            self._card_rows.clear()
            best = max((hit.score for hit in self.hits), default=0.0)
            if self.grouped:
                for group in group_hits(self.hits, self.order, self.added_at):
                    self._add(group.title, cards.HEADER, group.doc_id)
                    for position, index in enumerate(group.hits):
                        self._add_card(index, best).setData(_GROUP_POSITION_ROLE, position)
                    if len(group.hits) > GROUP_PREVIEW:
                        more = self._add("", cards.MORE, group.doc_id)
                        more.setData(cards.HIDDEN_COUNT_ROLE, len(group.hits) - GROUP_PREVIEW)
                self._apply_folding()
            else:
                for index in display_order(self.hits, self.order, self.added_at):
                    self._add_card(index, best)
            row = self._card_rows.get(self._index_of(selected), -1) if selected else -1
            if row < 0:  # the first card shown
                row = next((r for r in range(self.count()) if self._is_shown_card(r)), -1)
            if row >= 0:
                self._make_shown(row)
                self.setCurrentRow(row)
        finally:
            self._rebuilding = False
        if scroll is not None:
            self.doItemsLayout()  # the scroll range of the new items, so the position holds
            self.verticalScrollBar().setValue(scroll)
        elif self.currentItem() is not None:
            self.scrollToItem(self.currentItem())
        self.current_hit_changed.emit(self.current_hit())

    def _add(self, text: str, kind: int, doc_id: str) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setData(cards.KIND_ROLE, kind)
        item.setData(cards.DOC_ROLE, doc_id)
        item.setData(cards.NAME_ROLE, text)
        if kind != cards.CARD:
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # not selectable: not a page
        self.addItem(item)
        return item

    def _add_card(self, index: int, best: float) -> QListWidgetItem:
        item = card_item(self.hits[index], index, best)
        self.addItem(item)
        self._card_rows[index] = self.count() - 1
        self._draw_tile(item, self.hits[index])
        return item

    # --- groups -------------------------------------------------------------------------------

    def _apply_folding(self) -> None:
        """Hide the cards of folded groups, and a group's pages past its best few until asked."""
        for row in range(self.count()):
            item = self.item(row)
            doc_id, kind = item.data(cards.DOC_ROLE), item.data(cards.KIND_ROLE)
            folded = doc_id in self._collapsed
            if kind == cards.HEADER:
                item.setData(cards.OPEN_ROLE, not folded)
                continue
            showing_all = doc_id in self._showing_all
            if kind == cards.MORE:
                item.setData(cards.OPEN_ROLE, showing_all)
                self.setRowHidden(row, folded)
            else:
                position = item.data(_GROUP_POSITION_ROLE) or 0
                self.setRowHidden(row, folded or (position >= GROUP_PREVIEW and not showing_all))

    def _toggle(self, item: QListWidgetItem) -> None:
        """A header folds or opens its group; a "more" card shows the rest of it, or folds it."""
        doc_id, kind = str(item.data(cards.DOC_ROLE)), item.data(cards.KIND_ROLE)
        chosen = self._collapsed if kind == cards.HEADER else self._showing_all
        chosen.symmetric_difference_update({doc_id})
        self._apply_folding()
        current = self.currentItem()
        if current is not None and self.isRowHidden(self.row(current)):
            self.setCurrentItem(item)  # the page that was current is folded away: stay here
        self.viewport().update()

    def _make_shown(self, row: int) -> None:
        """Open whatever hides the card at ``row`` (its group folded, or past its best few)."""
        if self.grouped and self.isRowHidden(row):
            doc_id = str(self.item(row).data(cards.DOC_ROLE))
            self._collapsed.discard(doc_id)
            self._showing_all.add(doc_id)
            self._apply_folding()

    # --- which hit ----------------------------------------------------------------------------

    def current_hit(self) -> int:
        """The index into ``hits`` of the current card, or -1 (none, or a header)."""
        item = self.currentItem()
        if item is None or item.data(cards.KIND_ROLE) != cards.CARD:
            return -1
        return int(item.data(cards.HIT_ROLE))

    def select_hit(self, index: int) -> None:
        """Make ``hits[index]``'s card current (opening its group if need be), and show it."""
        row = self._card_rows.get(index, -1)
        if row < 0:
            return
        self._make_shown(row)
        self.setCurrentRow(row)
        self.scrollToItem(self.item(row))

    def card(self, index: int) -> QListWidgetItem | None:
        """``hits[index]``'s card."""
        row = self._card_rows.get(index, -1)
        return self.item(row) if row >= 0 else None

    def _current_key(self) -> PageKey | None:
        index = self.current_hit()
        return page_key(self.hits[index]) if 0 <= index < len(self.hits) else None

    def _index_of(self, key: PageKey | None) -> int:
        return next((i for i, hit in enumerate(self.hits) if page_key(hit) == key), -1)

    def _is_shown_card(self, row: int) -> bool:
        return self.item(row).data(cards.KIND_ROLE) == cards.CARD and not self.isRowHidden(row)

    def _current_changed(self) -> None:
        if not self._rebuilding:
            self.current_hit_changed.emit(self.current_hit())

    def _activated(self, item: QListWidgetItem) -> None:
        if item.data(cards.KIND_ROLE) == cards.CARD:
            self.hit_activated.emit(int(item.data(cards.HIT_ROLE)))

    def _clicked(self, item: QListWidgetItem) -> None:
        if item.data(cards.KIND_ROLE) in (cards.HEADER, cards.MORE):
            self._toggle(item)

    # --- thumbnails ---------------------------------------------------------------------------

    @property
    def thumbnail_width(self) -> int:
        return self.delegate.thumbnail_width

    def set_thumbnail_width(self, width: int) -> None:
        """Resize the cards (the size slider, Ctrl+wheel); sharper pages follow once it settles."""
        width = max(cards.MIN_THUMBNAIL_WIDTH, min(cards.MAX_THUMBNAIL_WIDTH, width))
        if width == self.delegate.thumbnail_width:
            return
        self.delegate.thumbnail_width = width
        self._redraw_tiles()
        self.scheduleDelayedItemsLayout()
        self._settle.start()
        self.thumbnail_width_changed.emit(width)

    def _request_thumbnails(self) -> None:
        pixels = pixels_for(thumbnail_size(self.thumbnail_width), self.devicePixelRatioF())
        for row in range(self.count()):  # in the order shown: the first cards first
            index = self.item(row).data(cards.HIT_ROLE)
            hit = self.hits[index] if index is not None else None
            if hit is not None and not hit.missing and page_key(hit) not in self._failed:
                self.loader.request(hit, pixels)

    def _draw_tile(self, item: QListWidgetItem, hit: Hit) -> None:
        size, ratio = thumbnail_size(self.thumbnail_width), self.devicePixelRatioF()
        image = self.loader.image(page_key(hit))
        if hit.missing:
            item.setData(
                cards.TILE_ROLE, marked_tile(hit.page_size, str(item.data(MISSING_ROLE)), size, ratio)
            )
        elif page_key(hit) in self._failed:
            item.setData(cards.TILE_ROLE, marked_tile(hit.page_size, NOT_DRAWN_MARK, size, ratio))
        elif image is not None:
            item.setData(cards.TILE_ROLE, make_tile(image, size, ratio))
            item.setData(cards.DRAWN_ROLE, True)

    def _redraw_tiles(self) -> None:
        for index, row in self._card_rows.items():
            self._draw_tile(self.item(row), self.hits[index])

    def _thumbnail_ready(self, key: PageKey) -> None:
        index = self._index_of(key)
        if index >= 0 and index in self._card_rows:
            self._draw_tile(self.item(self._card_rows[index]), self.hits[index])

    def _thumbnail_failed(self, key: PageKey, message: str) -> None:
        # The core's message may name the document by its internal id ("No document in the
        # library matches 3adfd74b88ce"): the card says it in words instead.
        del message
        self._failed.add(key)
        index = self._index_of(key)
        if index >= 0 and index in self._card_rows:
            item = self.item(self._card_rows[index])
            self._draw_tile(item, self.hits[index])
            item.setToolTip(f"{item.toolTip()}\nThis page could not be shown.")
        self.thumbnail_failed.emit()

    def thumbnails_ready(self) -> int:
        """How many thumbnails have been drawn (for tests and status)."""
        return sum(1 for row in self._card_rows.values() if self.item(row).data(cards.DRAWN_ROLE))

    # --- events -------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.count() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(self.palette().ColorRole.PlaceholderText))
            painter.drawText(
                self.viewport().rect().adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.empty_text,
            )
            painter.end()

    def resizeEvent(self, event: QResizeEvent) -> None:
        # A header spans the row, so that each group starts on a row of its own.
        self.delegate.row_width = max(1, self.viewport().width() - 2 * SPACING - 1)
        super().resizeEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.DevicePixelRatioChange:  # moved to a screen of another density
            self._redraw_tiles()
            self._settle.start()
        return super().event(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event)
            return
        self._wheel += event.angleDelta().y()
        steps = int(self._wheel / 120)  # one notch is 120; touchpads add up smaller deltas
        if steps:
            self._wheel -= steps * 120
            self.set_thumbnail_width(self.thumbnail_width + steps * cards.THUMBNAIL_STEP)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        item = self.currentItem()
        keys = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space)
        if (
            item is not None
            and item.data(cards.KIND_ROLE) in (cards.HEADER, cards.MORE)
            and event.key() in keys
        ):
            self._toggle(item)
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        item: QListWidgetItem | None
        if event.reason() == QContextMenuEvent.Reason.Keyboard:  # the Menu key, Shift+F10: the current card
            item = self.currentItem()
            position = self.visualItemRect(item).center() if item is not None else QPoint()
        else:
            item = self.itemAt(event.pos())
            position = event.pos()
        if item is None or item.data(cards.KIND_ROLE) != cards.CARD:
            return
        self.setCurrentItem(item)
        self.context_menu(item).popup(self.viewport().mapToGlobal(position))
        event.accept()

    def context_menu(self, item: QListWidgetItem) -> QMenu:
        """The menu of a card (see :func:`card_menu`)."""
        index = int(item.data(cards.HIT_ROLE))
        hit = self.hits[index]
        actions = CardActions(
            open=lambda: self.hit_activated.emit(index),
            open_in_viewer=lambda: self.open_requested.emit(hit.path, hit.page),
            reveal=lambda: self.reveal_requested.emit(hit.path),
            show_in_library=lambda: self.show_in_library_requested.emit(hit.doc_id),
            more_like_this=lambda: self.more_like_requested.emit(hit),
        )
        return card_menu(self, hit, actions)
