"""The first-start window: what is being set up, how much is left, Cancel, and clear errors."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from runtime import GB, Cancelled, Runtime, SetupError, download_bytes


class _Signals(QObject):
    line = Signal(str)
    finished = Signal(object)  # None on success, else the exception


class SetupWindow(QDialog):
    """Runs :meth:`Runtime.build` on a worker thread. ``succeeded`` says whether it finished;
    otherwise ``outcome`` is the :class:`SetupError` or :class:`Cancelled` that ended it (None
    if it never started)."""

    def __init__(self, runtime: Runtime, upgrade: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.outcome: BaseException | None = None
        self.succeeded = False
        self.setWindowTitle("Updating DocRetriever" if upgrade else "Setting up DocRetriever")
        size = download_bytes(runtime.payload.lock.read_text())
        offline = runtime.payload.offline_wheels is not None
        source = "from the offline pack" if offline else f"about {size / GB:.1f} GB to download"
        self.headline = QLabel(
            (
                "DocRetriever is updating its libraries"
                if upgrade
                else "DocRetriever is installing its libraries"
            )
            + f" (PyTorch, the model runtime; {source}). This happens once; later starts are quick."
        )
        self.headline.setWordWrap(True)
        self.status = QLabel("Starting…")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until uv says how many packages there are
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumBlockCount(2000)
        self.details.setVisible(False)
        self.toggle = QPushButton("Show details")
        self.toggle.clicked.connect(self._toggle_details)
        self.copy = QPushButton("Copy details")
        self.copy.clicked.connect(self._copy_details)
        self.copy.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.toggle)
        buttons.addWidget(self.copy)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.details, 1)
        layout.addLayout(buttons)
        self.setMinimumWidth(560)
        self._signals = _Signals()
        self._signals.line.connect(self._show_line)
        self._signals.finished.connect(self._finish)
        self._packages = 0
        self._done = 0
        self._running = False

    def start(self) -> None:
        self._running = True
        threading.Thread(target=self._work, name="runtime-build", daemon=True).start()

    def _work(self) -> None:
        try:
            self.runtime.build(self._signals.line.emit)
        except BaseException as exc:  # reported in the window, on the UI thread
            self._signals.finished.emit(exc)
        else:
            self._signals.finished.emit(None)

    def _show_line(self, line: str) -> None:
        self.details.appendPlainText(line)
        words = line.split()
        # uv's plain output: "Resolved 86 packages", "Downloading torch (873.1MiB)",
        # "Downloaded torch", "Prepared 86 packages", "Installed 86 packages".
        if words[:1] == ["Resolved"] and len(words) > 1 and words[1].isdigit():
            self._packages = int(words[1])
        elif words[:1] == ["Downloaded"]:
            self._done += 1
        if self._packages:
            self.bar.setRange(0, self._packages)
            self.bar.setValue(min(self._done, self._packages))
        self.status.setText(line[:160])

    def _finish(self, outcome: BaseException | None) -> None:
        self.outcome = outcome
        self._running = False
        if outcome is None:
            self.succeeded = True
            self.accept()
            return
        self.bar.setVisible(False)
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)
        self.cancel_button.clicked.disconnect()
        self.cancel_button.clicked.connect(self.reject)
        if isinstance(outcome, Cancelled):
            self.reject()
            return
        message = (
            outcome.message if isinstance(outcome, SetupError) else f"{type(outcome).__name__}: {outcome}"
        )
        details = outcome.details if isinstance(outcome, SetupError) else ""
        self.headline.setText("DocRetriever could not finish setting up its libraries.")
        self.status.setText(message)
        self.status.setStyleSheet("color: #b00020;")
        if details:
            self.details.appendPlainText("\n" + details)
        self.copy.setVisible(True)
        self.adjustSize()

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling…")
        self.runtime.cancel()

    def _toggle_details(self) -> None:
        self.details.setVisible(not self.details.isVisible())
        self.toggle.setText("Hide details" if self.details.isVisible() else "Show details")
        if self.details.isVisible():
            self.resize(self.width(), max(self.height(), 420))

    def _copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.status.text() + "\n\n" + self.details.toPlainText())

    @property
    def running(self) -> bool:
        return self._running

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._running:
            # Closing is cancelling: the window goes once the build has stopped and cleaned up.
            event.ignore()
            self._cancel()
            return
        super().closeEvent(event)

    def reject(self) -> None:
        if self._running:  # Esc, like closing, cancels first
            self._cancel()
            return
        super().reject()
