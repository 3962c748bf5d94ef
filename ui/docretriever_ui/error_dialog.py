"""Errors from the core shown to a person: the message, and "Copy details" for a bug report."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from docretriever_ui.tasks import TaskError


class ErrorDialog(QMessageBox):
    """A warning box with the person's message; the details are one click from the clipboard."""

    def __init__(self, error: TaskError, parent: QWidget | None = None, title: str = "DocRetriever") -> None:
        super().__init__(parent)
        self.error = error
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle(title)
        self.setText(error.message)
        if error.details:
            self.setDetailedText(error.details)
        self.copy_button = self.addButton("Copy details", QMessageBox.ButtonRole.ActionRole)
        self.addButton(QMessageBox.StandardButton.Close)
        # Copying must not close the box.
        self.copy_button.clicked.disconnect()
        self.copy_button.clicked.connect(self.copy_details)

    def copy_details(self) -> None:
        text = self.error.message + ("\n\n" + self.error.details if self.error.details else "")
        QApplication.clipboard().setText(text)


def show_error(error: TaskError, parent: QWidget | None = None) -> ErrorDialog:
    """Open the error box without blocking (window-modal) and return it."""
    dialog = ErrorDialog(error, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
