"""Watching the folders a library follows while a program runs: changes are synced as they
settle (:mod:`.debounce`, :mod:`.watcher`, :mod:`.changes`)."""

from docretriever.library.watching.changes import (
    Change,
    HandledBatch,
    WatchSummary,
    changes_of,
    handle_changes,
    watch_library,
)
from docretriever.library.watching.debounce import SETTLE_S, Debouncer, file_signature
from docretriever.library.watching.watcher import FolderWatcher, changed_paths

__all__ = [
    "SETTLE_S",
    "Change",
    "Debouncer",
    "FolderWatcher",
    "HandledBatch",
    "WatchSummary",
    "changed_paths",
    "changes_of",
    "file_signature",
    "handle_changes",
    "watch_library",
]
