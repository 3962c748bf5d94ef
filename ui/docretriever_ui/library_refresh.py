"""Keeping the library list up to date without reading the library on the UI thread.

The list of documents is read on the session's reader pool (on a Qdrant library that is a
network scroll, which must never freeze the window) and handed back on the UI thread. Refreshes
are coalesced: one read in flight and at most one waiting, which starts when the first comes
back, so a burst of changes costs two reads, not one each. Changes during an ingest arrive up to
ten times a second and are throttled to one refresh per ``REFRESH_DELAY_MS``. A read of a library
that has since been reopened (other settings) is stale: a new read starts at once, and the old
one's result is dropped when it comes back.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from docretriever.vocabulary import Document
from docretriever_ui.session import LibrarySession
from docretriever_ui.tasks import TaskError

# Library refreshes requested during an ingest are coalesced into one per this many ms.
REFRESH_DELAY_MS = 300


class LibraryRefresh(QObject):
    """Reads the documents for ``deliver`` (called on the UI thread with every fresh list);
    ``on_error`` gets a read that failed. ``refreshed`` is emitted when what was delivered (or
    failed) is the answer to every refresh asked for so far, none waiting: tests wait on it."""

    refreshed = Signal()

    def __init__(
        self,
        session: LibrarySession,
        deliver: Callable[[list[Document]], None],
        on_error: Callable[[TaskError], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._deliver = deliver
        self._on_error = on_error
        self._started = 0  # reads started, numbered from 1
        self._in_flight: tuple[int, int] | None = None  # (read number, library generation)
        self._waiting = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)

    @property
    def busy(self) -> bool:
        """Whether a read is in flight or waiting (or a throttled refresh is due)."""
        return self._in_flight is not None or self._waiting or self._timer.isActive()

    def schedule(self) -> None:
        """Refresh soon: a throttle, not a debounce (restarting the timer at each change would
        put the refresh off until an ingest ends)."""
        if not self._timer.isActive():
            self._timer.start()

    def refresh(self) -> None:
        """Read the documents now, or right after the read in flight comes back."""
        self._timer.stop()
        if self._in_flight is not None and self._in_flight[1] == self.session.library_generation:
            self._waiting = True
            return
        self._start()  # nothing in flight, or a read of a library reopened since: stale

    def _start(self) -> None:
        self._started += 1
        number = self._started
        self._waiting = False
        self._in_flight = (number, self.session.library_generation)
        self.session.read_documents(
            lambda documents: self._back(number, documents),
            lambda error: self._back(number, error),
        )

    def _back(self, number: int, outcome: list[Document] | TaskError) -> None:
        if not shiboken6.isValid(self):
            return  # its window was closed while the library was read
        if number != self._started:
            return  # stale: a newer read started after this one (the library was reopened)
        self._in_flight = None
        if isinstance(outcome, TaskError):
            self._on_error(outcome)
        else:
            self._deliver(outcome)
        if self._waiting:
            self._start()
        else:
            self.refreshed.emit()
