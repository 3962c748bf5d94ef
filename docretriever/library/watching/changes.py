"""What a watch does with settled paths: a sync of those paths on the library's one writer
(:meth:`Library.sync_paths`), told file by file; and the loop the command line runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from docretriever.errors import Cancelled, InvalidInputError
from docretriever.library.base import Library
from docretriever.library.watching.debounce import SETTLE_S
from docretriever.library.watching.watcher import FolderWatcher
from docretriever.progress import CancelToken, ProgressCallback, ignore_progress
from docretriever.vocabulary import AddReport

# What happened to a file, in the order a summary names them.
ADDED, CHANGED, MOVED, MISSING, FAILED, UNAVAILABLE = (
    "added",
    "changed",
    "moved",
    "missing",
    "failed",
    "unavailable",
)
KINDS = (ADDED, CHANGED, MOVED, MISSING, FAILED, UNAVAILABLE)
ALREADY_HELD = "Its pages were in the library already; nothing embedded."
# How often the loop looks at its cancel token while nothing changes, in seconds.
_CANCEL_LOOK_S = 0.2


@dataclass(frozen=True)
class Change:
    """One file a watch handled. ``kind``: added (new here; ``pages`` indexed, or none embedded
    when its bytes were in the library already), changed (new bytes at a known path, indexed
    again), moved (found at a new place, nothing embedded), missing (not at its place any more:
    kept, still searchable), failed (``note`` says why), unavailable (a folder that cannot be
    reached: its documents are left as they were; ``path`` is the folder)."""

    kind: str
    path: str
    doc_id: str | None = None
    pages: int = 0
    note: str | None = None


@dataclass
class HandledBatch:
    """The changes of one batch of settled paths, and the report of the sync that made them."""

    changes: list[Change]
    report: AddReport


def changes_of(report: AddReport, known: Mapping[str, str]) -> list[Change]:
    """The changes a sync of some paths made, file by file; ``known``: every path the library's
    documents had before it, with its document's doc id. A file indexed already and unchanged
    at its path (touched, saved unchanged) is left out: nothing happened to it."""
    changes = []
    for outcome in report.outcomes:
        kind = outcome.status
        if outcome.status in ("indexed", "skipped"):
            if known.get(outcome.path) == outcome.doc_id and outcome.status == "skipped":
                continue
            kind = CHANGED if outcome.path in known else ADDED
        note = outcome.error
        if outcome.status == "skipped":  # at a new place, or other bytes: pages the library holds
            note = ALREADY_HELD
        if kind in KINDS:
            changes.append(Change(kind, outcome.path, outcome.doc_id, outcome.pages, note))
    changes.extend(Change(UNAVAILABLE, folder, note=reason) for folder, reason in report.unreachable)
    return changes


def handle_changes(
    library: Library,
    paths: Sequence[str],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> HandledBatch:
    """Sync ``paths`` (settled paths from :class:`FolderWatcher`) and say what happened to each
    file. Runs on the library's writer (call it where writes go: the GUI's serial writer task).
    Raises Cancelled (what was stored is kept) and the library's errors."""
    known = {path: document.doc_id for document in library.documents() for path in document.paths}
    report = library.sync_paths(list(paths), progress, cancel)
    return HandledBatch(changes_of(report, known), report)


@dataclass
class WatchSummary:
    """What a watch did until it stopped: files by kind of change, batches handled."""

    counts: Counter[str] = field(default_factory=Counter)
    batches: int = 0

    def text(self) -> str:
        """ "3 added, 1 moved in 2 batches", or "No change." """
        parts = [f"{self.counts[kind]} {kind}" for kind in KINDS if self.counts[kind]]
        if not parts:
            return "No change."
        return f"{', '.join(parts)} in {self.batches} batch{'es' if self.batches != 1 else ''}."


def watch_library(
    library: Library,
    on_batch: Callable[[HandledBatch], None],
    cancel: CancelToken,
    *,
    settle_s: float = SETTLE_S,
    progress: ProgressCallback = ignore_progress,
    on_ready: Callable[[list[str]], None] | None = None,
) -> WatchSummary:
    """Watch the library's followed folders until ``cancel``, handling each batch of settled
    paths on this thread and giving it to ``on_batch``; folders followed meanwhile are watched
    from the next batch on. ``on_ready`` gets the folders once they are watched.

    Returns what was done. Raises InvalidInputError when the library follows no folder, and
    the library's errors (a full disk); a batch cut short by ``cancel`` keeps what it stored.
    """
    folders = library.followed_folders()
    if not folders:
        raise InvalidInputError(
            "This library follows no folder yet: add a folder first (`docretriever add FOLDER`), "
            "then watch it."
        )
    summary = WatchSummary()
    watcher = FolderWatcher(folders, settle_s=settle_s)
    watcher.start()
    try:
        watcher.next_batch(0)  # arms the folders
        if on_ready is not None:
            on_ready(watcher.folders)
        while not cancel.cancelled:
            batch = watcher.next_batch(_CANCEL_LOOK_S)
            if not batch:
                continue
            try:
                handled = handle_changes(library, batch, progress, cancel)
            except Cancelled:
                break
            summary.batches += 1
            summary.counts.update(change.kind for change in handled.changes)
            on_batch(handled)
            watcher.watch(library.followed_folders())
    finally:
        watcher.stop()
    return summary
