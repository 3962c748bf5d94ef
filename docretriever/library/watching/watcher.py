"""Watching the followed folders with watchdog: file events in, settled paths out.

The operating system's notifications (inotify, FSEvents, ReadDirectoryChangesW, through
watchdog's observer) say which paths changed; :class:`~.debounce.Debouncer` holds each until it
is complete. Only what a folder walk would take (:func:`~docretriever.documents.discover.is_document_file`)
and folders are kept: a folder deleted or moved away stands for every file the library knows
under it.

watchdog cannot watch a folder that is not there, and a watch dies with its folder (deleted,
renamed, its drive unplugged). So at every look (at least every ``REARM_S`` seconds) each
followed folder is checked, by one ``stat``: one that went away is handed on as a change (its
files become missing, or unavailable when its drive is gone, as a sync says) and armed again
when it is back, which is handed on too (its files are found again). A folder deleted and made
again between two looks is told by its inode. What changed while a folder was away is seen when
it is back; what changes inside a drive's mount point while the drive is unplugged and back
within one look may be missed until the next sync.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from docretriever.documents.discover import is_document_file
from docretriever.library.watching.debounce import SETTLE_S, Debouncer

# Seconds between two looks at whether each followed folder is still there.
REARM_S = 2.0
# Seconds ``stop`` waits for watchdog's threads.
STOP_WAIT_S = 5.0
# Never wait less than this between looks (a held path whose signature just changed).
_LEAST_WAIT_S = 0.05


def changed_paths(event: FileSystemEvent) -> list[str]:
    """The paths a watchdog event tells of that a library cares about: documents (by name)
    created, written, deleted or moved (both ends), and folders created, deleted or moved (a
    folder's own "modified" comes with every change inside it, told by that change's event)."""
    if event.event_type in (EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE):
        return []
    paths = [os.fsdecode(path) for path in (event.src_path, event.dest_path) if path]
    if event.is_directory:
        return [] if event.event_type == EVENT_TYPE_MODIFIED else paths
    return [path for path in paths if is_document_file(path)]


class _Handler(FileSystemEventHandler):
    def __init__(self, noted: Callable[[list[str]], None]) -> None:
        self._noted = noted

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = changed_paths(event)
        if paths:
            self._noted(paths)


class FolderWatcher:
    """Watches ``folders`` (absolute paths; recursively) for changes to documents.

    :meth:`start` it, then call :meth:`next_batch` in a loop on one thread: it returns the
    settled paths to hand to :meth:`Library.sync_paths`; :meth:`stop` ends it. :meth:`watch`
    replaces the folders (any thread). ``settle_s``: see :mod:`~.debounce`.
    """

    def __init__(
        self,
        folders: Iterable[str] = (),
        *,
        settle_s: float = SETTLE_S,
        observer: Callable[[], BaseObserver] = Observer,
    ) -> None:
        self._debouncer = Debouncer(settle_s)
        self._observer = observer()
        self._handler = _Handler(self._noted)
        self._cond = threading.Condition()
        self._folders: set[str] = {os.path.abspath(folder) for folder in folders}
        self._armed: dict[str, tuple[ObservedWatch, tuple[int, int]]] = {}  # folder -> watch, (dev, inode)
        self._lost: set[str] = set()  # folders armed once and gone since
        self._stopped = False
        self._woken = False
        self._next_arm = 0.0
        self.looks = 0  # how many times the held paths were looked at (tests wait on it)

    def start(self) -> None:
        """Start watchdog's observer thread."""
        self._observer.daemon = True  # never keeps a quitting program alive
        self._observer.start()

    def stop(self) -> None:
        """Stop watching; :meth:`next_batch` returns at once, and watchdog's threads end (waited
        for up to ``STOP_WAIT_S``). Safe to call twice."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(STOP_WAIT_S)

    @property
    def running(self) -> bool:
        """Whether watchdog's observer thread is alive."""
        return self._observer.is_alive()

    def watch(self, folders: Iterable[str]) -> None:
        """Watch these folders from the next look on, and no others."""
        with self._cond:
            self._folders = {os.path.abspath(folder) for folder in folders}
            self._next_arm = 0.0
            self._cond.notify_all()

    @property
    def folders(self) -> list[str]:
        """The folders being watched now (those there at the last look), sorted."""
        with self._cond:
            return sorted(self._armed)

    @property
    def held(self) -> list[str]:
        """The paths waiting to settle, sorted."""
        with self._cond:
            return self._debouncer.held

    def wake(self) -> None:
        """Make a waiting :meth:`next_batch` return now (with what is ready, maybe nothing)."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def again(self, paths: Iterable[str]) -> None:
        """Hold ``paths`` again (a batch that could not be handled), as if they had just changed."""
        self._noted(list(paths))

    def _noted(self, paths: list[str]) -> None:
        with self._cond:
            self._debouncer.note(paths, time.monotonic())
            self._cond.notify_all()

    def next_batch(self, timeout_s: float) -> list[str]:
        """Wait up to ``timeout_s`` seconds for paths to settle and return them (absolute,
        sorted); [] on time out, :meth:`wake` or :meth:`stop`."""
        deadline = time.monotonic() + timeout_s
        while True:
            if time.monotonic() >= self._next_arm:
                self._arm()  # outside the lock: watchdog calls the handler under its own lock
            with self._cond:
                if self._stopped:
                    return []
                now = time.monotonic()
                batch = self._debouncer.take_ready(now)
                self.looks += 1
                if batch or self._woken or now >= deadline:
                    self._woken = False
                    return batch
                look = self._debouncer.next_look(now)
                wait = min(deadline - now, self._next_arm - now, REARM_S if look is None else look)
                self._cond.wait(max(wait, _LEAST_WAIT_S))

    def _arm(self) -> None:
        """Look at every folder: watch those that are there and not watched (or were made
        again), stop watching those gone or no longer wanted, and hold what came or went."""
        with self._cond:
            wanted = set(self._folders)
            self._next_arm = time.monotonic() + REARM_S
        changed = []
        for folder in sorted(set(self._armed) - wanted):
            self._disarm(folder)
            self._lost.discard(folder)
        self._lost &= wanted
        for folder in sorted(wanted):
            identity = _identity(folder)
            armed = self._armed.get(folder)
            if armed is not None and armed[1] != identity:  # gone, or another folder there now
                self._disarm(folder)
                self._lost.add(folder)
                changed.append(folder)
                armed = None
            if identity is None:
                self._lost.add(folder)  # not there (an unplugged drive): caught up when it is back
            elif armed is None and not self._stopped:
                try:
                    watch = self._observer.schedule(self._handler, folder, recursive=True)
                except OSError:  # gone again meanwhile, or not readable: the next look tries again
                    continue
                self._armed[folder] = (watch, identity)
                if folder in self._lost:
                    self._lost.discard(folder)
                    changed.append(folder)
        if changed:
            self._noted(changed)

    def _disarm(self, folder: str) -> None:
        watch, _ = self._armed.pop(folder)
        with contextlib.suppress(KeyError, OSError):  # its emitter already ended with the folder
            self._observer.unschedule(watch)


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of what is at ``path``; None when nothing is, or it cannot be read."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return (status.st_dev, status.st_ino)
