"""The context menu of a result card. Its actions are the grid's signals (the main window wires
them to the viewer, the desktop and the library pane), except "Copy path", done here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QApplication, QMenu, QWidget

from docretriever.library import Hit
from docretriever_ui.results_order import open_in_viewer_label


@dataclass(frozen=True)
class CardActions:
    """What a card's menu entries do (the results grid emits its signals)."""

    open: Callable[[], None]
    open_in_viewer: Callable[[], None]
    reveal: Callable[[], None]
    show_in_library: Callable[[], None]
    more_like_this: Callable[[], None] | None = None


def card_menu(parent: QWidget, hit: Hit, actions: CardActions) -> QMenu:
    """The menu of ``hit``'s card: open it, open its file outside the app (a PDF at its page), reveal
    the file, copy its path, show its document in the library, find the pages like it. A file not
    on disk cannot be opened or revealed: the menu says so instead of offering it (its pages like
    this one are still found, from its stored vectors)."""
    menu = QMenu(parent)
    if hit.missing:
        note = menu.addAction(
            f"{'Not available' if hit.unavailable else 'File missing'}: last seen at {hit.path}"
        )
        note.setEnabled(False)
        menu.addSeparator()
    menu.setDefaultAction(menu.addAction("Open", actions.open))
    opener = menu.addAction(open_in_viewer_label(hit.path), actions.open_in_viewer)
    reveal = menu.addAction("Reveal in file manager", actions.reveal)
    for action in (opener, reveal):
        action.setEnabled(not hit.missing)
    menu.addAction("Copy path", lambda: QApplication.clipboard().setText(hit.path))
    menu.addSeparator()
    if actions.more_like_this is not None:
        menu.addAction("More like this page", actions.more_like_this)
    menu.addAction("Show in library", actions.show_in_library)
    return menu
