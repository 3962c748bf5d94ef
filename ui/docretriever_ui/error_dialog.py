"""Errors from the core shown to a person: the message, and "Copy details" for a bug report."""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

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
    """Open the error box without blocking (window-modal) and return it. A box already open over
    ``parent`` with the same message is returned instead: a model that failed to load also fails
    the ingest waiting for it, and one cause deserves one box."""
    if parent is not None:
        for shown in parent.findChildren(ErrorDialog):
            if shown.isVisible() and shown.error.message == error.message:
                return shown
    dialog = ErrorDialog(error, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def install_excepthook(parent: QWidget | None = None) -> None:
    """Show any exception that escapes a slot on the UI thread as an error box (and still print
    it), so that a bug is reported with its details instead of passing silently."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        previous(kind, value, tb)
        if isinstance(value, KeyboardInterrupt) or QApplication.instance() is None:
            return
        details = "".join(traceback.format_exception(kind, value, tb))
        show_error(TaskError(f"Something went wrong: {kind.__name__}: {value}", details), parent)

    sys.excepthook = hook
