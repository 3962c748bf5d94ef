"""One writer at a time per library folder, across processes (CLI and GUI alike)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from types import TracebackType

from docretriever.errors import LibraryError


class WriterLock:
    """An exclusive, non-blocking lock on ``folder/writer.lock``, released on exit or crash.

    Re-entrant for the thread that holds it; another thread or process gets a LibraryError at
    once instead of waiting behind a long ingest.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / "writer.lock"
        self._handle: int | None = None
        self._depth = 0
        self._thread_lock = threading.RLock()

    def __enter__(self) -> WriterLock:
        if not self._thread_lock.acquire(blocking=False):
            raise LibraryError(
                "The library is being changed by another task; try again when it has finished."
            )
        try:
            self._acquire_file()
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def busy(self) -> bool:
        """True while a thread of this process holds the lock (an ingest, a removal). It only
        reads a counter, never takes the lock, so it never makes a writer starting at the same
        moment fail; a writer in another process is not seen."""
        return self._depth > 0

    def _acquire_file(self) -> None:
        if self._depth == 0:
            handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                _lock(handle)
            except OSError as exc:
                os.close(handle)
                raise LibraryError(
                    "The library is being changed by another DocRetriever window or command; "
                    "try again when it has finished."
                ) from exc
            self._handle = handle
        self._depth += 1

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._handle is not None:
                _unlock(self._handle)
                os.close(self._handle)
                self._handle = None
        finally:
            self._thread_lock.release()


if sys.platform == "win32":
    import msvcrt

    def _lock(handle: int) -> None:
        msvcrt.locking(handle, msvcrt.LK_NBLCK, 1)

    def _unlock(handle: int) -> None:
        os.lseek(handle, 0, os.SEEK_SET)
        msvcrt.locking(handle, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(handle: int) -> None:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: int) -> None:
        fcntl.flock(handle, fcntl.LOCK_UN)
