"""When the app is idle, the library measures its own search quality.

:class:`RecallWatcher` runs the core's recall watch (:func:`docretriever.library.local.recall_watch.
watch_recall`) on the session's reader pool, :data:`IDLE_MS` after the last search, when
nothing else is going on: no ingest running or queued, the model loaded, and a local library.
An ingest that starts stops it (a measurement then is dropped anyway). The core keeps to its
own throttle (at most one measurement per half hour and per ten new searches), so the timer
may fire as often as people search.

It also reads the last measurement for Help → About (:meth:`refresh`), in the background, and
sets whether the library remembers searches (the Preferences checkbox).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from docretriever.library import Library
from docretriever.library.local.recall_watch import RecallRecord, last_recall, watch_recall
from docretriever.library.recent_searches import RecentSearches
from docretriever.progress import CancelToken, ProgressCallback
from docretriever_ui.settings import AppSettings
from docretriever_ui.tasks import TaskError, TaskHandle, TaskRunner

# Quiet time after a search before the library is measured.
IDLE_MS = 30_000
# Below the thumbnails' renders (0): a person waits on those, nobody on this.
_PRIORITY = -1


def local_folder(location: str) -> str | None:
    """The folder of a library on this computer; None for a server (qdrant://) library."""
    return None if "://" in location else location


class RecallWatcher(QObject):
    """See the module docstring. ``measured(RecallRecord | None)`` comes after each
    measurement and after each :meth:`refresh`; ``last`` holds the latest known record and
    ``known`` whether it was read at all (None then means: never measured)."""

    measured = Signal(object)

    def __init__(
        self,
        parent: QObject,
        settings: AppSettings,
        runner: TaskRunner,
        library: Callable[[], Library],
        busy: Callable[[], bool],
        failed: Callable[[TaskError], None],
    ) -> None:
        """``library`` opens (or returns) the session's library, on a reader thread; ``busy``
        says whether the session is ingesting or its model is not ready; ``failed`` shows a
        failure the person asked for (turning remembering on or off)."""
        super().__init__(parent)
        self.settings = settings
        self.runner = runner
        self._library = library
        self._busy = busy
        self._failed = failed
        self.last: RecallRecord | None = None
        self.known = False
        self.last_error: TaskError | None = None  # of the last run; shown nowhere (a background check)
        self._generation = 0
        self._running: TaskHandle | None = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(IDLE_MS)
        self.timer.timeout.connect(self.run_now)

    def searched(self) -> None:
        """A search finished: measure once the app has been quiet for a while."""
        if local_folder(self.settings.library) is not None:
            self.timer.start()

    def pause(self) -> None:
        """Stop the timer and a measurement under way (an ingest starts, the window closes)."""
        self.timer.stop()
        if self._running is not None:
            self._running.cancel()

    def library_changed(self) -> None:
        """Another library was opened: what is known is of the old one."""
        self.pause()
        self._generation += 1
        self.last, self.known = None, False

    def run_now(self) -> TaskHandle | None:
        """Start a measurement in the background if nothing else is going on; returns its
        handle, or None when it did not start."""
        if self._busy() or (self._running is not None and not self._running.finished):
            return None
        if local_folder(self.settings.library) is None:
            return None
        generation = self._generation

        def work(progress: ProgressCallback, cancel: CancelToken) -> RecallRecord | None:
            from docretriever.library.local import LocalLibrary

            library = self._library()
            return watch_recall(library, progress, cancel) if isinstance(library, LocalLibrary) else None

        def done(record: RecallRecord | None) -> None:
            if generation == self._generation and record is not None:
                self.last, self.known, self.last_error = record, True, None
                self.measured.emit(record)

        def failed(error: TaskError) -> None:
            if generation == self._generation and not error.cancelled:
                self.last_error = error

        self._running = self.runner.read(work, priority=_PRIORITY, on_done=done, on_error=failed)
        return self._running

    def refresh(self) -> TaskHandle | None:
        """Read the last measurement in the background (``measured`` follows); None for a
        server library, which has none."""
        folder = local_folder(self.settings.library)
        if folder is None:
            self.last, self.known = None, True
            return None
        generation = self._generation

        def done(record: RecallRecord | None) -> None:
            if generation == self._generation:
                self.last, self.known = record, True
                self.measured.emit(record)

        return self.runner.side(
            lambda progress, cancel: last_recall(folder), on_done=done, on_error=lambda _: None
        )

    def describe(self) -> str:
        """About's line: "Search quality: fast path found … (measured …)", "not measured yet",
        or "checking…" until :meth:`refresh` has read it."""
        if local_folder(self.settings.library) is None:
            return "Search quality: measured by local libraries only"
        if not self.known:
            return "Search quality: checking…"
        if self.last is None:
            return "Search quality: not measured yet (measured on your searches while the app is idle)"
        return f"Search quality: {self.last.describe()}"

    def remembering(self) -> bool | None:
        """Whether the library remembers searches (read now: a small file); None for a server
        library, which does not."""
        folder = local_folder(self.settings.library)
        return None if folder is None else RecentSearches(folder).remembering

    def set_remembering(self, on: bool) -> TaskHandle | None:
        """Turn remembering searches on or off (off forgets them), in the background."""
        folder = local_folder(self.settings.library)
        if folder is None:
            return None

        def work(progress: ProgressCallback, cancel: CancelToken) -> None:
            RecentSearches(folder).set_remembering(on)

        return self.runner.side(work, on_error=self._failed)
