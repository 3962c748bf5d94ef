"""The search box: Esc clears it, and it remembers the recent searches.

The last :data:`RECENT_SEARCHES` queries, newest first, are kept in the settings. They drop down
under the box while typing (those that contain what is typed), and all of them with the Down
key or the arrow at the box's right end; picking one (click, or Enter on it) runs it.

At start the box holds the last query, selected so that typing replaces it. It is not run until
Enter: the model may still be loading or missing, and a search nobody asked for would make the
window busy, or open an error, before the person has done anything.
"""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import QCompleter, QLineEdit, QStyle, QWidget

from docretriever_ui.settings import AppSettings

RECENT_SEARCHES = 20


def remembered(recent: list[str], query: str, limit: int = RECENT_SEARCHES) -> list[str]:
    """``recent`` with ``query`` first: once (the same words in other case count as the same
    query), and no more than ``limit`` in all."""
    folded = query.casefold()
    return [query, *(item for item in recent if item.casefold() != folded)][:limit]


class SearchBox(QLineEdit):
    """A line edit for queries. ``search_requested(str)`` asks for a search of a recent query
    picked from the drop-down; Enter gives ``returnPressed`` as usual. Both are remembered."""

    search_requested = Signal(str)

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._just_submitted: str | None = None
        self._recent = QStringListModel(settings.recent_searches, self)
        completer = self._completer = QCompleter(self._recent, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        completer.setMaxVisibleItems(12)
        completer.activated.connect(self._picked)
        self.setCompleter(completer)
        self.recent_action = QAction(self.style().standardIcon(QStyle.StandardPixmap.SP_ArrowDown), "", self)
        self.recent_action.setToolTip("Recent searches (Down)")
        self.recent_action.triggered.connect(self.show_recent)
        self.addAction(self.recent_action, QLineEdit.ActionPosition.TrailingPosition)
        self.returnPressed.connect(self._submitted)
        self._update_recent_action()
        if recent := self.recent():
            self.setText(recent[0])
            self.selectAll()

    def recent(self) -> list[str]:
        """The recent queries, newest first."""
        return self._recent.stringList()

    def remember(self, query: str) -> None:
        """Put ``query`` first in the recent searches and keep them in the settings."""
        query = query.strip()
        if not query:
            return
        recent = remembered(self.recent(), query)
        self._recent.setStringList(recent)
        self.settings.recent_searches = recent
        self._update_recent_action()

    def show_recent(self) -> None:
        """Drop down every recent search, whatever the box holds."""
        if not self.recent():
            return
        self.setFocus(Qt.FocusReason.OtherFocusReason)
        self._completer.setCompletionPrefix("")
        self._completer.complete()

    def recent_visible(self) -> bool:
        """True while the drop-down of recent searches is open."""
        popup = self._completer.popup()
        return popup is not None and popup.isVisible()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # The drop-down, when open, has already taken Esc, Enter and the arrows.
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            event.accept()
            return
        if event.key() == Qt.Key.Key_Down and not self.recent_visible() and self.recent():
            self.show_recent()
            event.accept()
            return
        super().keyPressEvent(event)

    def _submitted(self) -> None:
        query = self.text().strip()
        if not query:
            return
        # Enter on a highlighted entry of the drop-down also reaches _picked, right after this:
        # that one search is already under way. The list changes once the key is handled (the
        # drop-down still points into it meanwhile).
        self._just_submitted = query
        QTimer.singleShot(0, lambda: self._settle(query))

    def _settle(self, query: str) -> None:
        self._just_submitted = None
        self.remember(query)

    def _picked(self, query: str) -> None:
        if query.strip() == self._just_submitted:
            return
        self.setText(query)
        QTimer.singleShot(0, lambda: self.remember(query))
        self.search_requested.emit(query)

    def _update_recent_action(self) -> None:
        self.recent_action.setVisible(bool(self.recent()))
