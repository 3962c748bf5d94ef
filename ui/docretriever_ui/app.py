"""Start-up of the desktop app: the skeleton the desktop-app issue fills in.

For now the window only names the library it would show, so that packaging and start-up can be
tested; the panes (library, search, results, viewer) come with the GUI issue.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from docretriever.config import default_library_dir


class MainWindow(QMainWindow):
    """The main window; it will compose the library, search and result panes."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("DocRetriever")
        placeholder = QLabel(
            f"Library: {default_library_dir()}\n\n"
            "The desktop app is being built; use the `docretriever` command meanwhile."
        )
        placeholder.setMargin(24)
        self.setCentralWidget(placeholder)
        self.resize(720, 480)


def main(argv: Sequence[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(list(argv or sys.argv))
    window = MainWindow()
    window.show()
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
