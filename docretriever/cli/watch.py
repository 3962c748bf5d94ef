"""``docretriever watch``: the followed folders watched until Ctrl-C, a line per file handled."""

from __future__ import annotations

import argparse

from docretriever.cli.progress_bar import ProgressBar
from docretriever.documents.discover import shown_path
from docretriever.errors import InvalidInputError
from docretriever.library import Library
from docretriever.library.watching import Change, HandledBatch, watch_library
from docretriever.progress import CancelToken


def run_watch(library: Library, args: argparse.Namespace, bar: ProgressBar, cancel: CancelToken) -> int:
    """Watch until ``cancel`` (the first Ctrl-C), then print what was done; 0 then. Raises
    InvalidInputError for a library that follows no folder (an empty one)."""
    if args.settle < 0:
        raise InvalidInputError("--settle must be 0 seconds or more.")

    def ready(folders: list[str]) -> None:
        followed = library.followed_folders()
        shown = ", ".join(shown_path(folder) for folder in followed[:3])
        more = f" and {len(followed) - 3} more" if len(followed) > 3 else ""
        away = len(followed) - len(folders)
        note = f" ({away} not there now: watched once back)" if away > 0 else ""
        plural = "folder" if len(followed) == 1 else "folders"
        print(f"Watching {len(followed)} {plural}: {shown}{more}{note}. Ctrl-C stops.", flush=True)

    def handled(batch: HandledBatch) -> None:
        bar.finish()
        for change in batch.changes:
            print(change_line(change), flush=True)

    summary = watch_library(library, handled, cancel, settle_s=args.settle, progress=bar, on_ready=ready)
    bar.finish()
    print(f"Stopped watching. {summary.text()}")
    return 0


def change_line(change: Change) -> str:
    """One line for a person: "added   /papers/a.pdf: 4 pages indexed"."""
    path = shown_path(change.path)
    if change.kind in ("added", "changed"):
        pages = "1 page" if change.pages == 1 else f"{change.pages} pages"
        told = change.note if change.note else f"{pages} indexed"
        if change.note and "nothing embedded" not in change.note:  # indexed in part: why
            told = f"{pages} indexed; {change.note}"
        return f"{change.kind:<7} {path}: {told}"
    if change.kind == "moved":
        return f"moved   {path}: {change.note} Nothing embedded again."
    if change.kind == "missing":
        return f"missing {path}: not there now; kept, still searchable"
    if change.kind == "unavailable":
        return f"not available {path}: {change.note}; its documents are kept as they were"
    return f"failed  {path}: {change.note}"
