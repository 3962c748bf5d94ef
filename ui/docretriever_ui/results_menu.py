"""The context menu of a result card. Its actions are the grid's signals (the main window wires
them to the viewer, the desktop and the library pane), except "Copy path", done here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication, QMenu

if TYPE_CHECKING:
    from docretriever_ui.results_grid import ResultsGrid


def card_menu(grid: ResultsGrid, index: int) -> QMenu:
    """The menu of ``grid.hits[index]``'s card: open it, open its file in a PDF viewer at its
    page, reveal the file, copy its path, show its document in the library. A file not on disk
    cannot be opened or revealed: the menu says so instead of offering it."""
    hit = grid.hits[index]
    menu = QMenu(grid)
    if hit.missing:
        note = menu.addAction(
            f"{'Not available' if hit.unavailable else 'File missing'}: last seen at {hit.path}"
        )
        note.setEnabled(False)
        menu.addSeparator()
    menu.setDefaultAction(menu.addAction("Open", lambda: grid.hit_activated.emit(index)))
    opener = menu.addAction(
        "Open in PDF viewer at this page", lambda: grid.open_requested.emit(hit.path, hit.page)
    )
    reveal = menu.addAction("Reveal in file manager", lambda: grid.reveal_requested.emit(hit.path))
    for action in (opener, reveal):
        action.setEnabled(not hit.missing)
    menu.addAction("Copy path", lambda: QApplication.clipboard().setText(hit.path))
    menu.addSeparator()
    menu.addAction("Show in library", lambda: grid.show_in_library_requested.emit(hit.doc_id))
    return menu
