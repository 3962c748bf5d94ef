"""Start-up of the desktop app: settings, the session over the core, the main window, and the
model set-up dialog when the configured model is not on this computer yet."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication

from docretriever_ui.error_dialog import install_excepthook
from docretriever_ui.main_window import MainWindow
from docretriever_ui.model_dialog import ModelSetupDialog, model_needs_setup
from docretriever_ui.session import LibrarySession
from docretriever_ui.settings import AppSettings


def create_window(settings: AppSettings | None = None) -> MainWindow:
    """The main window over the library in ``settings``; asks for the model when it is missing."""
    settings = settings or AppSettings()
    session = LibrarySession(settings)
    window = MainWindow(session)
    window.show()
    if model_needs_setup(settings):
        dialog = ModelSetupDialog(settings, session.runner, window)
        dialog.accepted.connect(session.reopen)
        dialog.open()
    return window


def main(argv: Sequence[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv))
    app.setApplicationName("DocRetriever")
    app.setOrganizationName("DocRetriever")
    window = create_window()
    install_excepthook(window)
    window.raise_()
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
