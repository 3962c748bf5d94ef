"""Documents whose files went missing: the question before forgetting them, and what is said
about them afterwards and in the results."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from docretriever.library import Hit
from docretriever.vocabulary import Document


def forget_question(documents: Sequence[Document]) -> str:
    """ "Forget 3 missing documents (12 pages)? …" """
    count = len(documents)
    pages = sum(document.page_count or 0 for document in documents)
    what = f"{count} missing document{'s' if count != 1 else ''} ({pages} page{'s' if pages != 1 else ''})"
    whose = "Their files are" if count != 1 else "Its file is"
    places = "their" if count != 1 else "its"
    return (
        f"Forget {what}? {whose} at none of {places} last known places; documents in folders "
        "that cannot be reached now are kept."
    )


def forgot_message(forgotten: int) -> str:
    """The status line after a prune: "Forgot 3 documents." """
    if forgotten == 0:
        return "Forgot no documents: their files are back, or their folders cannot be reached now."
    return f"Forgot {forgotten} document{'s' if forgotten != 1 else ''}."


class ForgetMissingDialog(QMessageBox):
    """Asks before forgetting ``documents``; Cancel is the default (forgetting cannot be undone
    short of adding the files again)."""

    def __init__(self, documents: Sequence[Document], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle("Forget missing documents")
        self.setText(forget_question(documents))
        their = "their" if len(documents) != 1 else "its"
        self.setInformativeText(
            f"Searches will no longer find {their} pages; add a file again to bring it back."
        )
        self.forget_button = self.addButton("Forget", QMessageBox.ButtonRole.DestructiveRole)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.cancel_button)

    def confirmed(self) -> bool:
        """Show the question (modal) and say whether Forget was chosen."""
        self.exec()
        return self.clickedButton() is self.forget_button


def missing_hit_note(hit: Hit) -> str:
    """What the viewer says for a hit whose file is not on disk."""
    return (
        f"<b>File missing:</b> it is not at its last known place, {escape(hit.path)}. This page was "
        "found from its stored vectors; put the file back, or Sync if it moved, to see it."
    )


class FileAbsentBanner(QLabel):
    """A strip over the viewer's page saying that the hit's file is not on disk (hidden otherwise)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setStyleSheet("QLabel { background: #fff4d6; color: #5c4400; padding: 6px; }")
        self.setVisible(False)

    def show_for(self, hit: Hit | None) -> None:
        """Say why ``hit``'s page cannot be shown; None hides the strip."""
        self.setText(missing_hit_note(hit) if hit is not None else "")
        self.setVisible(hit is not None)
