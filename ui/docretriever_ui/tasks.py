"""Running core functions off the UI thread.

Every background call looks the same: ``runner.write(fn, on_done=..., on_error=..., on_progress=...)``,
``runner.read(...)`` or ``runner.side(...)``. ``fn(progress, cancel)`` is a synchronous core
function; it runs on one serial writer thread (ingest, removal: one change to the library at a
time), on a pool of readers (search, rendering, the model load), or on a side pool for work that
never touches the library (is the model on disk, what would a download fetch, the download) and
so must not queue behind a model load that holds every reader. Results, errors and progress
come back to the UI thread as queued signals; progress reaches the UI at most ten times a
second, and always once at the end.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from docretriever.errors import Cancelled, DocRetrieverError
from docretriever.progress import CancelToken, Progress, ProgressCallback

PROGRESS_INTERVAL_S = 0.1

TaskFunction = Callable[[ProgressCallback, CancelToken], Any]


class TaskError:
    """What the UI shows for a failed task: the person's message and the details to copy."""

    def __init__(self, message: str, details: str, cancelled: bool = False) -> None:
        self.message = message
        self.details = details
        self.cancelled = cancelled


class _Signals(QObject):
    progress = Signal(object)  # Progress
    done = Signal(object)  # the function's result
    failed = Signal(object)  # TaskError


class TaskHandle:
    """A running task: ``cancel()`` asks it to stop at its next batch boundary."""

    def __init__(self) -> None:
        self.token = CancelToken()
        self.finished = False

    def cancel(self) -> None:
        self.token.cancel()


class _Task(QRunnable):
    def __init__(self, function: TaskFunction, signals: _Signals, handle: TaskHandle) -> None:
        super().__init__()
        self.function = function
        self.signals = signals
        self.handle = handle
        self._last_emit = 0.0
        self._pending: Progress | None = None

    def _progress(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit = now
            self._pending = None
            self.signals.progress.emit(progress)
        else:
            self._pending = progress

    def run(self) -> None:
        outcome: object
        failed = True
        if self.handle.token.cancelled:  # cancelled while queued: skip the work entirely
            self.handle.finished = True
            self.signals.failed.emit(TaskError("Cancelled.", "", cancelled=True))
            return
        try:
            outcome = self.function(self._progress, self.handle.token)
            failed = False
        except Cancelled as exc:
            outcome = TaskError(str(exc), "", cancelled=True)
        except DocRetrieverError as exc:
            outcome = TaskError(str(exc), exc.details or traceback.format_exc())
        except Exception as exc:  # a bug in a worker must never take the app down
            outcome = TaskError(
                f"Something went wrong: {exc.__class__.__name__}: {exc}", traceback.format_exc()
            )
        self._flush()
        # Finished before the last signal leaves, so its receivers already see the task as done.
        self.handle.finished = True
        if failed:
            self.signals.failed.emit(outcome)
        else:
            self.signals.done.emit(outcome)

    def _flush(self) -> None:
        if self._pending is not None:
            self.signals.progress.emit(self._pending)
            self._pending = None


class TaskRunner(QObject):
    """One serial writer and a pool of readers; see the module docstring.

    ``finished_any`` is emitted on the UI thread after any task's own callbacks, with the
    task's result (or its :class:`TaskError`).
    """

    finished_any = Signal(object)

    def __init__(self, readers: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._writer = QThreadPool(self)
        self._writer.setMaxThreadCount(1)
        self._readers = QThreadPool(self)
        self._readers.setMaxThreadCount(max(1, readers))
        self._side = QThreadPool(self)
        self._side.setMaxThreadCount(2)
        # Signal objects must live until their queued emissions are delivered.
        self._live: set[_Signals] = set()

    def write(self, function: TaskFunction, **callbacks: Callable[[Any], None]) -> TaskHandle:
        return self._start(self._writer, function, callbacks)

    def read(
        self, function: TaskFunction, *, priority: int = 0, **callbacks: Callable[[Any], None]
    ) -> TaskHandle:
        """Run on the reader pool; a higher ``priority`` starts before queued lower ones."""
        return self._start(self._readers, function, callbacks, priority)

    def side(self, function: TaskFunction, **callbacks: Callable[[Any], None]) -> TaskHandle:
        """Run on the side pool: work that never touches the library, so that it answers even
        while a model load and the searches waiting for it hold every reader."""
        return self._start(self._side, function, callbacks)

    def _start(
        self,
        pool: QThreadPool,
        function: TaskFunction,
        callbacks: dict[str, Callable[[Any], None]],
        priority: int = 0,
    ) -> TaskHandle:
        unknown = set(callbacks) - {"on_done", "on_error", "on_progress"}
        if unknown:
            raise TypeError(f"unknown callbacks: {sorted(unknown)}")
        signals = _Signals()
        self._live.add(signals)
        handle = TaskHandle()
        if "on_progress" in callbacks:
            signals.progress.connect(callbacks["on_progress"])
        if "on_done" in callbacks:
            signals.done.connect(callbacks["on_done"])
        if "on_error" in callbacks:
            signals.failed.connect(callbacks["on_error"])
        signals.done.connect(lambda result: self._finish(signals, result))
        signals.failed.connect(lambda error: self._finish(signals, error))
        pool.start(_Task(function, signals, handle), priority)
        return handle

    def _finish(self, signals: _Signals, outcome: object) -> None:
        self._live.discard(signals)
        self.finished_any.emit(outcome)

    def idle(self) -> bool:
        """True when no task is running or queued."""
        return all(pool.activeThreadCount() == 0 for pool in (self._writer, self._readers, self._side))

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until every task has finished (for shutdown and tests)."""
        return all(pool.waitForDone(timeout_ms) for pool in (self._writer, self._readers, self._side))
