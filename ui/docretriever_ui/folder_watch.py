"""Watching the library's followed folders while the app runs ("Watch added folders for
changes" in Preferences): the core's :class:`~docretriever.library.watching.FolderWatcher` on a
thread of its own, each batch of settled paths queued on the serial writer as an ingest, so the
library pane and the status bar show it as they show a sync.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, SignalInstance

from docretriever.errors import DocRetrieverError
from docretriever.library import AddReport, Library
from docretriever.library.watching import SETTLE_S, FolderWatcher, handle_changes
from docretriever.progress import CancelToken, ProgressCallback
from docretriever_ui.settings import AppSettings
from docretriever_ui.tasks import TaskHandle

logger = logging.getLogger(__name__)

# Seconds the watch thread may take to end when the watch is stopped (closing, quitting).
STOP_WAIT_S = 5.0

StartIngest = Callable[[Callable[[ProgressCallback, CancelToken], AddReport]], TaskHandle]


class FolderWatch(QObject):
    """Watches while :attr:`AppSettings.watch_folders` is on (:meth:`apply` after a change of
    it); :meth:`stop` when the library closes. ``library`` gives the open library (it is only
    read on the watch thread and the writer); ``start_ingest`` queues work on the serial writer
    (:meth:`LibrarySession.start_ingest`). The followed folders are read again after each
    change to the library (``documents_changed``, the session's)."""

    _settled = Signal(object)  # list[str], emitted on the watch thread

    def __init__(
        self,
        settings: AppSettings,
        library: Callable[[], Library],
        start_ingest: StartIngest,
        documents_changed: SignalInstance,
        parent: QObject | None = None,
        *,
        settle_s: float = SETTLE_S,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.settle_s = settle_s
        self._library = library
        self._start_ingest = start_ingest
        self._watcher: FolderWatcher | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._refresh = threading.Event()
        self._settled.connect(self._queue)
        documents_changed.connect(self.refresh)
        self.apply()

    @property
    def watching(self) -> bool:
        """Whether the watch thread runs."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def watcher(self) -> FolderWatcher | None:
        """The core's watcher while watching (tests read its folders)."""
        return self._watcher

    def apply(self) -> None:
        """Start or stop watching as the preference says."""
        if self.settings.watch_folders:
            self.start()
        else:
            self.stop()

    def start(self) -> None:
        if self.watching:
            return
        self._stopping = threading.Event()
        self._watcher = FolderWatcher(settle_s=self.settle_s)
        self._watcher.start()
        self._refresh.set()
        self._thread = threading.Thread(
            target=self._run, args=(self._watcher, self._stopping), name="folder-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and wait (up to STOP_WAIT_S) for the threads to end. A batch already
        queued on the writer still runs; one settled meanwhile is dropped (the next sync finds
        it)."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.stop()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
        self._watcher = self._thread = None

    def refresh(self) -> None:
        """Read the followed folders again (a folder added, removed, another library)."""
        self._refresh.set()
        if self._watcher is not None:
            self._watcher.wake()

    def _run(self, watcher: FolderWatcher, stopping: threading.Event) -> None:
        while not stopping.is_set():
            if self._refresh.is_set():
                self._refresh.clear()
                try:
                    watcher.watch(self._library().followed_folders())
                except DocRetrieverError as exc:  # cannot be opened now: tried again after a change
                    logger.warning("The followed folders could not be read: %s", exc)
            batch = watcher.next_batch(SETTLE_S)
            if batch and not stopping.is_set():
                self._settled.emit(batch)

    def _queue(self, batch: list[str]) -> None:
        if not self.watching:
            return

        def work(progress: ProgressCallback, cancel: CancelToken) -> AddReport:
            return handle_changes(self._library(), batch, progress, cancel).report

        self._start_ingest(work)
