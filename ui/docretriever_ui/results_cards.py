"""How a result looks: the card (page thumbnail, file name, page, relevance bar, and the page's
own words under its best match when they have arrived), a document's header when results are
grouped, and the "more pages" card; and the thumbnail tiles themselves.

Everything is drawn by :class:`ResultCardDelegate` from the item's data roles, so that:

- the selection is a frame around the card, never a tint over the page (a tint hid the
  highlights that say where the page matched);
- a long file name is elided in the middle to the card's width, and the page line ("p. 12")
  has a line of its own, always whole;
- the thumbnail is a pixmap made at the screen's pixel density (``devicePixelRatio`` set), not
  a 1× pixmap stretched over a 2× screen.
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QListWidgetItem, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from docretriever.library import Hit
from docretriever_ui.results_order import document_name, page_text, relevance

# Thumbnail widths the size slider offers, in logical pixels; heights are 4:3 of that (a page).
MIN_THUMBNAIL_WIDTH, DEFAULT_THUMBNAIL_WIDTH, MAX_THUMBNAIL_WIDTH = 100, 180, 360
THUMBNAIL_STEP = 20
PADDING = 6  # around the thumbnail inside a card, and between the card's lines
BAR_WIDTH, BAR_HEIGHT = 36, 5
FRAME_WIDTH = 3  # the selection frame

# Item data. What an item is (a card, a document's header, a "more" card):
KIND_ROLE = Qt.ItemDataRole.UserRole + 10
CARD, HEADER, MORE = 0, 1, 2
# Cards: the thumbnail has been drawn (bool; ``thumbnails_ready`` counts these).
DRAWN_ROLE = Qt.ItemDataRole.UserRole
# Cards: the hit's file is missing (its mark, "File missing" or "Not available").
MISSING_ROLE = Qt.ItemDataRole.UserRole + 1
HIT_ROLE = Qt.ItemDataRole.UserRole + 11  # cards: index into the hits
DOC_ROLE = Qt.ItemDataRole.UserRole + 12  # every kind: the document's id (never shown)
TILE_ROLE = Qt.ItemDataRole.UserRole + 13  # cards: the thumbnail QPixmap, when there is one
NAME_ROLE = Qt.ItemDataRole.UserRole + 14  # cards: the file name; headers: their title
PAGE_ROLE = Qt.ItemDataRole.UserRole + 15  # cards: "p. 12"
RELEVANCE_ROLE = Qt.ItemDataRole.UserRole + 16  # cards: score / best score, in [0, 1]
OPEN_ROLE = Qt.ItemDataRole.UserRole + 17  # headers: expanded; "more" cards: showing all
HIDDEN_COUNT_ROLE = Qt.ItemDataRole.UserRole + 18  # "more" cards: how many pages they hold back
# Cards: the words under the best match (str), set when they arrive (results_snippets.py).
SNIPPET_ROLE = Qt.ItemDataRole.UserRole + 19

MISSING_MARK = "File missing"
TILE_BACKGROUND = QColor("#f2f2f2")


def thumbnail_size(width: int) -> QSize:
    return QSize(width, round(width * 4 / 3))


def card_lines(name: str, page: str, metrics: QFontMetrics, width: int) -> tuple[str, str, bool]:
    """The card's two lines for a card ``width`` pixels wide: the name elided in the middle (the
    start and the extension both tell files apart), the page text whole, and whether the
    relevance bar fits beside it."""
    elided = metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, width)
    bar_fits = metrics.horizontalAdvance(page) + PADDING + BAR_WIDTH <= width
    return elided, page, bar_fits


def card_item(hit: Hit, index: int, best: float) -> QListWidgetItem:
    """The item of ``hit`` (``hits[index]``; ``best`` the best score): what the delegate draws,
    its text for screen readers and tests, its tooltip, and the mark of a missing file."""
    name, page, share = document_name(hit), page_text(hit), relevance(hit, best)
    item = QListWidgetItem(f"{name}\n{page}")
    roles = {KIND_ROLE: CARD, DOC_ROLE: hit.doc_id, HIT_ROLE: index, NAME_ROLE: name, PAGE_ROLE: page}
    for role, value in roles.items():
        item.setData(role, value)
    item.setData(RELEVANCE_ROLE, share)
    # The raw score means nothing to a person; how it compares with the best one does.
    item.setToolTip(f"{hit.path}\n{page} · {share:.0%} as relevant as the best match")
    if hit.missing:
        # Not on a drive or share that is not connected, rather than gone: it may come back.
        mark = "Not available" if hit.unavailable else MISSING_MARK
        item.setText(f"{item.text()} · {mark}")
        item.setToolTip(f"{mark}: last seen at {hit.path}\n{page}")
        item.setData(MISSING_ROLE, mark)
    return item


def make_tile(image: QImage | None, size: QSize, ratio: float) -> QPixmap:
    """A thumbnail tile of ``size`` logical pixels at pixel density ``ratio``: the page centred
    and framed (portrait and landscape pages line up), or an empty tile while it renders."""
    device = QSize(round(size.width() * ratio), round(size.height() * ratio))
    tile = QPixmap(device)
    tile.fill(TILE_BACKGROUND)
    if image is not None and not image.isNull():
        margin = max(2, round(2 * ratio))
        scaled = image.scaled(
            device.shrunkBy(QMargins(margin, margin, margin, margin)),
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        painter = QPainter(tile)
        x = (device.width() - scaled.width()) // 2
        y = (device.height() - scaled.height()) // 2
        painter.drawImage(x, y, scaled)
        painter.setPen(QPen(QColor("#b0b0b0"), max(1, round(ratio))))
        painter.drawRect(x - 1, y - 1, scaled.width() + 1, scaled.height() + 1)
        painter.end()
    tile.setDevicePixelRatio(ratio)  # drawn 1:1 on a screen of this density, not stretched
    return tile


def marked_tile(page_size: tuple[float, float], mark: str, size: QSize, ratio: float) -> QPixmap:
    """A blank page of the hit's shape, dashed, with ``mark`` ("File missing") across it: for a
    page found from its stored vectors whose file cannot be drawn."""
    tile = make_tile(None, size, ratio)
    tile.setDevicePixelRatio(ratio)  # painted in logical pixels from here on
    width, height = page_size
    scale = min((size.width() - 8) / max(width, 1.0), (size.height() - 8) / max(height, 1.0))
    page_width, page_height = int(width * scale), int(height * scale)
    x, y = (size.width() - page_width) // 2, (size.height() - page_height) // 2
    painter = QPainter(tile)
    painter.fillRect(x, y, page_width, page_height, QColor("#fbfbfb"))
    painter.setPen(QPen(QColor("#a0a0a0"), 1, Qt.PenStyle.DashLine))
    painter.drawRect(x, y, page_width - 1, page_height - 1)
    font = QFont(painter.font())
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("#b03a2e"))
    painter.drawText(
        QRect(x, y, page_width, page_height),
        Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
        mark,
    )
    painter.end()
    return tile


class ResultCardDelegate(QStyledItemDelegate):
    """Paints cards, headers and "more" cards; see the module docstring.

    ``thumbnail_width`` is the cards' thumbnail width; ``row_width`` the width a header spans
    (the view's, kept up to date by the view), so that a header starts a row of its own."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnail_width = DEFAULT_THUMBNAIL_WIDTH
        self.row_width = 600
        self.show_names = True  # under each card; not when grouped (the header names them)

    # --- sizes --------------------------------------------------------------------------------

    def card_size(self, metrics: QFontMetrics) -> QSize:
        thumb = thumbnail_size(self.thumbnail_width)
        # The snippet's line is always there, so cards keep their size when snippets arrive.
        lines = 3 if self.show_names else 2
        text = lines * metrics.height() + (lines - 1) * (PADDING // 2)
        return QSize(thumb.width() + 2 * PADDING, thumb.height() + 3 * PADDING + text)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        metrics = QFontMetrics(option.font)
        if index.data(KIND_ROLE) == HEADER:
            return QSize(self.row_width, metrics.height() + 3 * PADDING)
        return self.card_size(metrics)

    # --- painting -----------------------------------------------------------------------------

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        kind = index.data(KIND_ROLE)
        if kind == HEADER:
            self._paint_header(painter, option, index)
        elif kind == MORE:
            self._paint_more(painter, option, index)
        else:
            self._paint_card(painter, option, index)
        painter.restore()

    def _paint_card(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        rect: QRect = option.rect
        palette: QPalette = option.palette
        metrics = QFontMetrics(option.font)
        thumb = QRect(rect.topLeft(), thumbnail_size(self.thumbnail_width)).translated(PADDING, PADDING)
        tile = index.data(TILE_ROLE)
        if isinstance(tile, QPixmap) and not tile.isNull():
            painter.drawPixmap(thumb, tile)
        else:
            painter.fillRect(thumb, TILE_BACKGROUND)
        width = thumb.width()
        name, page, bar_fits = card_lines(
            str(index.data(NAME_ROLE) or ""), str(index.data(PAGE_ROLE) or ""), metrics, width
        )
        line = QRect(thumb.left(), thumb.bottom() + 1 + PADDING, width, metrics.height())
        if self.show_names:
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            painter.drawText(line, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, name)
            line.translate(0, metrics.height() + PADDING // 2)
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, page)
        share = index.data(RELEVANCE_ROLE)
        if bar_fits and isinstance(share, float):
            bar = QRectF(
                line.right() + 1 - BAR_WIDTH, line.center().y() - BAR_HEIGHT / 2, BAR_WIDTH, BAR_HEIGHT
            )
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Midlight))
            painter.drawRoundedRect(bar, 2, 2)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(
                QRectF(bar.x(), bar.y(), max(2.0, bar.width() * share), bar.height()), 2, 2
            )
        snippet = index.data(SNIPPET_ROLE)
        if isinstance(snippet, str) and snippet:
            line.translate(0, metrics.height() + PADDING // 2)
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            font = QFont(option.font)
            font.setItalic(True)
            painter.setFont(font)
            shown = QFontMetrics(font).elidedText(snippet, Qt.TextElideMode.ElideRight, width)
            painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)
        self._paint_frame(painter, option, rect)

    def _paint_frame(self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect) -> None:
        """The selection as a frame around the card (the page inside stays as it is)."""
        state = option.state
        palette: QPalette = option.palette
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if state & QStyle.StateFlag.State_Selected:
            pen = QPen(palette.color(QPalette.ColorRole.Highlight), FRAME_WIDTH)
            inset = FRAME_WIDTH / 2
        elif state & QStyle.StateFlag.State_MouseOver:
            pen = QPen(palette.color(QPalette.ColorRole.Mid), 1)
            inset = 0.5
        else:
            return
        painter.setPen(pen)
        painter.drawRoundedRect(QRectF(rect).adjusted(inset, inset, -inset, -inset), 5, 5)

    def _paint_header(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        rect: QRect = option.rect
        palette: QPalette = option.palette
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        metrics = QFontMetrics(font)
        arrow = "▾" if index.data(OPEN_ROLE) else "▸"
        text_rect = rect.adjusted(PADDING, 0, -PADDING, -PADDING // 2)
        arrow_width = metrics.horizontalAdvance("▾ ")
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(text_rect, align, arrow)
        title = metrics.elidedText(
            str(index.data(NAME_ROLE) or ""), Qt.TextElideMode.ElideMiddle, text_rect.width() - arrow_width
        )
        painter.drawText(text_rect.adjusted(arrow_width, 0, 0, 0), align, title)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawLine(rect.left() + PADDING, rect.bottom(), rect.right() - PADDING, rect.bottom())
        if option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
            painter.drawRoundedRect(QRectF(rect).adjusted(1, 1, -1, -1), 4, 4)

    def _paint_more(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        rect: QRect = option.rect
        palette: QPalette = option.palette
        thumb = QRect(rect.topLeft(), thumbnail_size(self.thumbnail_width)).translated(PADDING, PADDING)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRectF(thumb).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        painter.setPen(palette.color(QPalette.ColorRole.Link))
        painter.drawText(
            thumb.adjusted(PADDING, PADDING, -PADDING, -PADDING),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            more_text(bool(index.data(OPEN_ROLE)), int(index.data(HIDDEN_COUNT_ROLE) or 0)),
        )
        self._paint_frame(painter, option, rect)


def more_text(showing_all: bool, hidden: int) -> str:
    """What a "more" card says: how many pages it reveals, or that it folds them again."""
    if showing_all:
        return "Show fewer pages"
    return f"Show {hidden} more page{'s' if hidden != 1 else ''}"
