"""The window's keyboard conventions, and Help → Keyboard shortcuts, which lists them all.

The standard keys come from Qt's platform conventions, completed where a platform has none
(Preferences is Ctrl+, in the desktops that have one, but Qt defines it only on macOS; full
screen is F11 everywhere but macOS). The list is read from the window itself (its menus and any
other action with a shortcut), so it cannot fall behind the menus; keys that are no action (the
search box's Esc, the viewer's arrows) are in :data:`OTHER_KEYS`.
"""

from __future__ import annotations

import re
import sys
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QMenu,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

# Keys that are no action of the window, by where they work: (place, keys, what they do).
OTHER_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Search box", "Enter", "Search"),
    ("Search box", "Esc", "Clear the search box"),
    ("Search box", "Down", "Recent searches"),
    ("Results", "Enter, Space or double-click", "Open the page"),
    ("Results", "Arrow keys", "Move between results"),
    ("Library", "Delete", "Remove the selected documents from the library"),
    ("Library", "Menu or Shift+F10", "Actions for the selected documents"),
    ("Page viewer", "← / → (Page Up / Page Down)", "Previous / next result"),
    ("Page viewer", "Ctrl+= / Ctrl+- (Ctrl+wheel)", "Zoom in / out"),
    ("Page viewer", "Ctrl+0", "Fit the page to the window"),
    ("Page viewer", "Ctrl+C", "Copy the page image"),
    ("Page viewer", "Esc", "Close the viewer"),
)


def standard_keys(standard: QKeySequence.StandardKey, *extra: str) -> list[QKeySequence]:
    """The platform's keys for ``standard``, then ``extra`` ones it lacks (in portable text)."""
    keys = list(QKeySequence.keyBindings(standard))
    for text in extra:
        key = QKeySequence(text)
        if key not in keys:
            keys.append(key)
    return keys


def preferences_keys() -> list[QKeySequence]:
    return standard_keys(QKeySequence.StandardKey.Preferences, "Ctrl+,")


def full_screen_keys() -> list[QKeySequence]:
    # macOS has its own (Ctrl+Cmd+F); F11 there belongs to the system.
    extra = () if sys.platform == "darwin" else ("F11",)
    return standard_keys(QKeySequence.StandardKey.FullScreen, *extra)


def set_full_screen(window: QWidget, on: bool) -> None:
    """Full screen on or off, back to the window's state before (maximized or not) when off."""
    state = window.windowState()
    if on:
        window.setWindowState(state | Qt.WindowState.WindowFullScreen)
    else:
        window.setWindowState(state & ~Qt.WindowState.WindowFullScreen)


def plain_text(action: QAction) -> str:
    """An action's text as a person reads it: no mnemonic ampersands, no trailing ellipsis."""
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def keys_text(action: QAction) -> str:
    """An action's shortcuts as this platform writes them ("Ctrl+O, Ctrl+L")."""
    return ", ".join(
        key.toString(QKeySequence.SequenceFormat.NativeText)
        for key in action.shortcuts()
        if not key.isEmpty()
    )


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """Every shortcut of ``window``: (place, keys, what), menus first in their order, then the
    actions elsewhere in the window, then :data:`OTHER_KEYS`."""
    rows: list[tuple[str, str, str]] = []
    listed: set[QAction] = set()
    for top in window.menuBar().actions():
        menu = top.menu()
        if not isinstance(menu, QMenu):
            continue
        place = f"{plain_text(top)} menu"
        for action in _menu_actions(menu):
            listed.add(action)
            if keys := keys_text(action):
                rows.append((place, keys, plain_text(action)))
    for action in window.findChildren(QAction):
        if action not in listed and (keys := keys_text(action)) and (what := described(action)):
            rows.append(("Elsewhere in the window", keys, what))
    return rows + list(OTHER_KEYS)


def described(action: QAction) -> str:
    """What an action outside the menus does: its tooltip, which says more than a button's
    short text ("◀ Page"), without the keys it may name in parentheses."""
    tip = action.toolTip().strip()
    if tip and tip != action.text():
        return re.sub(r"\s*\([^)]*\)$", "", tip)
    return plain_text(action)


def _menu_actions(menu: QMenu) -> list[QAction]:
    actions: list[QAction] = []
    for action in menu.actions():
        submenu = action.menu()
        actions.extend(_menu_actions(submenu) if isinstance(submenu, QMenu) else [action])
    return actions


def shortcuts_html(rows: list[tuple[str, str, str]]) -> str:
    """The rows as one table per place."""
    parts: list[str] = []
    place = None
    for where, keys, what in rows:
        if where != place:
            if place is not None:
                parts.append("</table>")
            parts.append(f"<h3>{escape(where)}</h3><table cellspacing='0' cellpadding='3' width='100%'>")
            place = where
        parts.append(f"<tr><td width='45%'><b>{escape(keys)}</b></td><td>{escape(what)}</td></tr>")
    if place is not None:
        parts.append("</table>")
    return "".join(parts)


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: the list, grouped by menu and place."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = shortcut_rows(window)
        self.browser = QTextBrowser(self)
        self.browser.setHtml(shortcuts_html(self.rows))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(520, 600)
