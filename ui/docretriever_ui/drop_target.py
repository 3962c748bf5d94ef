"""Files dragged onto the main window: which drags it takes, how, and the highlight meanwhile.

A drop is taken as a copy, or as a link when the source offers only that, and never as a move:
after a move the source (a file manager) may delete its files, and the library only reads them.
A drag that offers neither, or that carries no local file, is refused. While a drag the window
takes is over it, :class:`DropHighlight` tints the window and says what a drop will do.
"""

from __future__ import annotations

import os
from urllib.parse import unquote_to_bytes

from PySide6.QtCore import QRect, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QWidget

_BORDER_PX = 4


def carries_local_files(event: QDropEvent) -> bool:
    mime = event.mimeData()
    return mime is not None and mime.hasUrls() and any(url.isLocalFile() for url in mime.urls())


def accept_as_copy(event: QDropEvent) -> bool:
    """Accept a drag or drop of local files as a copy (a link if that is all the source offers)
    and return True; refuse anything else, a move-only drag included, and return False.

    Works for enter, move and drop events alike (QDragEnterEvent and QDragMoveEvent are
    QDropEvents): the action is set on each, since the source may change what it proposes as
    the drag goes on (a modifier key pressed)."""
    if not carries_local_files(event):
        event.ignore()
        return False
    possible = event.possibleActions()
    for action in (Qt.DropAction.CopyAction, Qt.DropAction.LinkAction):
        if possible & action:
            event.setDropAction(action)
            event.accept()
            return True
    event.ignore()
    return False


class DropHighlight(QWidget):
    """A tint and a border over the whole window, with what a drop does, while files are dragged
    over it. Transparent to the mouse, so the drag events still reach the window below."""

    TEXT = "Drop to add to the library"

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.hide()

    def cover(self) -> None:
        """Show over the window's whole area, above its other children."""
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.raise_()
        self.show()

    def paintEvent(self, event: QPaintEvent) -> None:
        accent = self.palette().color(QPalette.ColorRole.Highlight)
        tint = QColor(accent)
        tint.setAlpha(40)
        painter = QPainter(self)
        painter.fillRect(self.rect(), tint)
        painter.setPen(QPen(accent, _BORDER_PX))
        half = _BORDER_PX // 2
        painter.drawRect(self.rect().adjusted(half, half, -half, -half))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        painter.setFont(font)
        label = painter.fontMetrics().boundingRect(self.TEXT).adjusted(-24, -14, 24, 14)
        label.moveCenter(self.rect().center())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(accent)
        painter.drawRoundedRect(label, 8, 8)
        painter.setPen(self.palette().color(QPalette.ColorRole.HighlightedText))
        painter.drawText(QRect(label), Qt.AlignmentFlag.AlignCenter, self.TEXT)
        painter.end()


def local_path(url: QUrl) -> str:
    """The file a ``file:`` URL names. ``toLocalFile`` decodes the name as UTF-8 and turns bytes
    that are not into U+FFFD, naming a file that does not exist; on POSIX the percent-encoded
    bytes are decoded as Python decodes file names instead (undecodable bytes surrogate-escaped,
    PEP 383), so that the ingest finds the file and says why it cannot take it."""
    if os.name == "nt" or url.host():
        return url.toLocalFile()
    return os.fsdecode(unquote_to_bytes(url.path(QUrl.ComponentFormattingOption.FullyEncoded)))
