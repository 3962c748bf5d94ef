"""Asking for the password of a PDF that needs one to open.

When an ingest reports files that failed for want of a password, a dialog asks for each in turn
("'report.pdf' is protected by a password."), with a password field, "Remember in the system
keyring" (disabled, saying why, when this computer has no keyring DocRetriever can use) and
Skip / Open. Open adds that file again with the password; a wrong one asks again, saying so.
Skip leaves it failed, and files skipped are not asked for again by later ingests of this run:
the library pane's "Enter password…" asks for one on request. Passwords go to the session only,
never to a label, a log or the settings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from docretriever.library import AddReport
from docretriever.vocabulary import Document
from docretriever_ui.session import LibrarySession
from docretriever_ui.tasks import TaskError

NO_KEYRING_TIP = (
    "This computer has no system keyring DocRetriever can use: the password is kept until DocRetriever quits."
)
KEYRING_TIP = "Keep the password in the system keyring, so that DocRetriever opens this file by itself later"


@dataclass(frozen=True)
class _Request:
    """A file to ask for: where it is, its document, and why it is asked again (a wrong password)."""

    path: str
    doc_id: str | None
    reason: str | None = None

    @property
    def name(self) -> str:
        return Path(self.path).name


class PasswordDialog(QDialog):
    """The question for one file; :attr:`password` and :attr:`remember` once Open is chosen."""

    def __init__(self, name: str, reason: str | None, keyring: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Password needed")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.message = QLabel(f"‘{name}’ is protected by a password.", self)
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # a file name is never markup
        self.reason = QLabel(reason or "", self)
        self.reason.setWordWrap(True)
        self.reason.setTextFormat(Qt.TextFormat.PlainText)
        self.reason.setStyleSheet("QLabel { color: #b91c1c; }")
        self.reason.setVisible(bool(reason))
        self.field = QLineEdit(self)
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setPlaceholderText("Password")
        self.field.setAccessibleName(f"Password for {name}")
        self.remember_box = QCheckBox("Remember in the system keyring", self)
        self.remember_box.setEnabled(keyring)
        self.remember_box.setToolTip(KEYRING_TIP if keyring else NO_KEYRING_TIP)
        self.buttons = QDialogButtonBox(self)
        self.skip_button = QPushButton("Skip", self)
        self.open_button = QPushButton("Open", self)
        self.open_button.setDefault(True)
        self.buttons.addButton(self.skip_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.field.textChanged.connect(lambda text: self.open_button.setEnabled(bool(text)))
        self.open_button.setEnabled(False)
        layout = QVBoxLayout(self)
        for widget in (self.message, self.reason, self.field, self.remember_box, self.buttons):
            layout.addWidget(widget)
        self.setMinimumWidth(380)
        self.field.setFocus()

    @property
    def password(self) -> str:
        return self.field.text()

    @property
    def remember(self) -> bool:
        return self.remember_box.isEnabled() and self.remember_box.isChecked()


class PasswordPrompts(QObject):
    """Asks, one file at a time, for the passwords the session's ingests found missing or wrong
    (see the module docstring). ``dialog`` is the question on screen, if any."""

    def __init__(self, session: LibrarySession, parent: QWidget) -> None:
        super().__init__(parent)
        self.session = session
        self._window = parent
        self._queue: list[_Request] = []
        self._retrying: set[str] = set()  # paths added again with a password: their outcome answers
        self._skipped: set[str] = set()  # doc ids not to ask for again unless asked to
        self.dialog: PasswordDialog | None = None
        session.ingest_finished.connect(self._ingest_finished)

    def pending(self) -> list[str]:
        """The paths waiting for a question (the one on screen first)."""
        return [request.path for request in self._queue]

    def ask_for(self, documents: Sequence[Document]) -> None:
        """Ask for the password of ``documents`` (the library pane's "Enter password…"), even
        those skipped before."""
        for document in documents:
            path = next((p for p in document.paths if os.path.exists(p)), "")
            if path:
                self._skipped.discard(document.doc_id)
                self._enqueue(_Request(path, document.doc_id))
        self._show_next()

    def _ingest_finished(self, outcome: AddReport | TaskError) -> None:
        if not isinstance(outcome, AddReport):
            return
        for result in outcome.outcomes:
            retried = result.path in self._retrying
            self._retrying.discard(result.path)
            if not result.needs_password or result.status != "failed":
                continue
            if retried:  # the password typed did not open it: ask again, saying so
                self._enqueue(_Request(result.path, result.doc_id, result.error))
            elif result.doc_id not in self._skipped:
                self._enqueue(_Request(result.path, result.doc_id))
        self._show_next()

    def _enqueue(self, request: _Request) -> None:
        if all(queued.path != request.path for queued in self._queue):
            self._queue.append(request)

    def _show_next(self) -> None:
        if self.dialog is not None or not self._queue:
            return
        request = self._queue[0]
        keyring = self.session.passwords.keyring_available
        self.dialog = PasswordDialog(request.name, request.reason, keyring, self._window)
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.finished.connect(lambda result: self._answered(request, result))
        self.dialog.open()

    def _answered(self, request: _Request, result: int) -> None:
        dialog, self.dialog = self.dialog, None
        self._queue = [queued for queued in self._queue if queued is not request]
        if dialog is not None and result == QDialog.DialogCode.Accepted and dialog.password:
            self._retrying.add(request.path)
            self.session.add([request.path], {request.path: dialog.password}, dialog.remember)
            dialog.field.clear()
        elif request.doc_id is not None:
            self._skipped.add(request.doc_id)
        self._show_next()
