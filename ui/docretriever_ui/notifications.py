"""A desktop notification when a long ingest ends while the window is in the background.

Indexing a folder can take many minutes, and people switch to other work meanwhile. When an
ingest (add, sync, re-index: from the first start until the queue is empty) has run longer than
:data:`LONG_INGEST_S` and the window is not the active one when it ends, the desktop is told:
a notification through the system tray where there is one (clicking it brings the window
back), else the window asks for attention (a blinking taskbar entry, :meth:`QApplication.alert`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QStyle, QSystemTrayIcon, QWidget

from docretriever.library import AddReport
from docretriever_ui.ingest_status import summarize
from docretriever_ui.session import LibrarySession
from docretriever_ui.single_instance import bring_to_front
from docretriever_ui.tasks import TaskError

LONG_INGEST_S = 30.0
# The tray icon exists only to carry the message; it goes away after this long.
_TRAY_SHOWN_MS = 20_000
_MESSAGE_MS = 10_000


class IngestNotifier(QObject):
    """Watches the session's ingests and tells the desktop when a long one ends unseen.

    ``last`` is the latest notification as (``"tray"`` or ``"alert"``, title, message), for
    tests and support; ``clock`` is injectable for the same reason."""

    def __init__(
        self, session: LibrarySession, window: QWidget, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(window)
        self.session = session
        self.window = window
        self.clock = clock
        self.last: tuple[str, str, str] | None = None
        self._since: float | None = None  # when the current run of ingests started
        self._tray: QSystemTrayIcon | None = None
        self._hide_tray = QTimer(self)
        self._hide_tray.setSingleShot(True)
        self._hide_tray.setInterval(_TRAY_SHOWN_MS)
        self._hide_tray.timeout.connect(self._remove_tray)
        session.ingest_started.connect(self._started)
        session.ingest_finished.connect(self._finished)

    def _started(self) -> None:
        if self._since is None:
            self._since = self.clock()

    def _finished(self, outcome: AddReport | TaskError) -> None:
        if self.session.ingesting or self._since is None:
            return  # more queued: the notification waits for the end of the whole run
        elapsed, self._since = self.clock() - self._since, None
        if elapsed <= LONG_INGEST_S or not self.in_background():
            return
        cancelled = isinstance(outcome, TaskError) and outcome.cancelled
        title = "Indexing stopped" if cancelled else "Indexing finished"
        self.notify(title, summarize(outcome))

    def in_background(self) -> bool:
        """True when the person is not looking at the window: it is minimized, or the active
        window is neither it nor one of its dialogs (another program's, or none of ours)."""
        active = QApplication.activeWindow()
        if self.window.isMinimized() or active is None:
            return True
        while active is not None:
            if active is self.window:
                return False
            active = active.parentWidget()
        return True

    def notify(self, title: str, message: str) -> None:
        """Tell the desktop: a tray notification where the desktop has a tray that shows
        messages, else a request for attention on the window."""
        if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
            tray = self._tray_icon()
            tray.show()
            tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, _MESSAGE_MS)
            self._hide_tray.start()
            self.last = ("tray", title, message)
        else:
            QApplication.alert(self.window)
            self.last = ("alert", title, message)

    def _tray_icon(self) -> QSystemTrayIcon:
        if self._tray is None:
            icon = self.window.windowIcon()
            if icon.isNull():
                icon = self.window.style().standardIcon(QStyle.StandardPixmap.SP_FileDialogContentsView)
            self._tray = QSystemTrayIcon(icon, self)
            self._tray.setToolTip("DocRetriever")
            self._tray.messageClicked.connect(lambda: bring_to_front(self.window))
            self._tray.activated.connect(lambda reason: bring_to_front(self.window))
        return self._tray

    def _remove_tray(self) -> None:
        if self._tray is not None:
            self._tray.hide()
