"""Help → About: the version, the model, the library folder and the licences (AGPL-3.0-or-later,
and the third-party notices), with the licence texts a click away. Help → Keyboard shortcuts is
in :mod:`docretriever_ui.shortcuts`."""

from __future__ import annotations

import importlib.metadata
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from docretriever_ui.model_status import describe_identity
from docretriever_ui.session import LibrarySession

LICENCE_SUMMARY = (
    "DocRetriever is free software: you can redistribute it and change it under the terms of the "
    "GNU Affero General Public License, version 3 or (at your option) any later version "
    "(AGPL-3.0-or-later). It comes with no warranty. The libraries it uses keep their own "
    "licences: see the third-party notices."
)


def version() -> str:
    try:
        return importlib.metadata.version("docretriever")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout without installing
        return "(development copy)"


def licence_file(name: str) -> Path | None:
    """``LICENSE`` or ``THIRD-PARTY-NOTICES.md`` as installed with the package (or in the
    checkout DocRetriever runs from); None if neither has it."""
    try:
        for file in importlib.metadata.distribution("docretriever").files or ():
            if file.name == name and (path := Path(str(file.locate()))).is_file():
                return path
    except importlib.metadata.PackageNotFoundError:
        pass
    checkout = Path(__file__).resolve().parents[2] / name
    return checkout if checkout.is_file() else None


def about_html(session: LibrarySession) -> str:
    settings = session.settings
    model = escape(settings.model)
    if session.model_identity is not None:
        model += f"<br>loaded: {escape(describe_identity(session.model_identity))}"
    return (
        f"<h2>DocRetriever {escape(version())}</h2>"
        "<p>Finds the right page in your documents (PDFs, scans, photos, Office files) "
        "by looking at the pages.</p>"
        f"<p><b>Model:</b> {model}<br><b>Library:</b> {escape(settings.library)}<br>"
        f"{escape(session.recall_watch.describe())}</p>"
        f"<p>{escape(LICENCE_SUMMARY)}</p>"
    )


class AboutDialog(QDialog):
    """Help → About: version, model, library and licences, with the licence texts a click away."""

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About DocRetriever")
        self.label = QLabel(about_html(session), self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The search-quality line is read in the background, then shown.
        self.session = session
        session.recall_watch.measured.connect(self._show_quality)
        session.recall_watch.refresh()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.licence_button = self._file_button(buttons, "Licence…", "LICENSE")
        self.notices_button = self._file_button(buttons, "Third-party notices…", "THIRD-PARTY-NOTICES.md")
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)

    def _show_quality(self, _: object) -> None:
        self.label.setText(about_html(self.session))

    def _file_button(self, buttons: QDialogButtonBox, text: str, name: str) -> QPushButton:
        button = buttons.addButton(text, QDialogButtonBox.ButtonRole.ActionRole)
        path = licence_file(name)
        if path is None:
            button.setEnabled(False)
            button.setToolTip(f"{name} is not installed with this copy of DocRetriever.")
        else:
            button.clicked.connect(lambda: self.show_file(path))
        return button

    def show_file(self, path: Path) -> QDialog:
        """A window with the text of ``path`` (the notices are Markdown)."""
        dialog = QDialog(self)
        dialog.setWindowTitle(path.name)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        browser = QTextBrowser(dialog)
        browser.setOpenExternalLinks(True)
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".md":
            browser.setMarkdown(text)
        else:
            browser.setPlainText(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(browser)
        layout.addWidget(buttons)
        dialog.resize(720, 640)
        dialog.open()
        return dialog
