"""``prune`` and ``compact``: forgetting what is gone, and reclaiming the space it took."""

from __future__ import annotations

import argparse
import sys

from docretriever.cli.progress_bar import ProgressBar
from docretriever.documents.discover import shown_path
from docretriever.errors import InvalidInputError
from docretriever.library import Library
from docretriever.progress import CancelToken, format_bytes
from docretriever.vocabulary import UNAVAILABLE


def run_prune(library: Library, args: argparse.Namespace, bar: ProgressBar, cancel: CancelToken) -> int:
    """``prune``: say which missing documents would be forgotten (count, pages, names), ask, then
    forget them (see :meth:`Library.prune`). ``--yes`` does not ask; without a terminal to ask
    on, it is required. Documents whose folder is out of reach are never pruned: say so."""
    from docretriever.cli.wording import counted, pages_of

    missing = library.missing_documents()  # checked again just now: a file that is back is not
    out_of_reach = sum(1 for document in library.documents() if document.availability == UNAVAILABLE)
    if out_of_reach:
        are = "is" if out_of_reach == 1 else "are"
        print(
            f"{counted(out_of_reach, 'document')} in folders that cannot be reached now (a drive or share "
            f"that is not connected?) {are} kept; connect it and sync, or `docretriever remove` the folder."
        )
    if not missing:
        print("No missing documents: nothing to forget.")
        return 0
    verb = "is" if len(missing) == 1 else "are"
    what = f"{counted(len(missing), 'document')} ({counted(pages_of(missing), 'page')})"
    print(f"{what} {verb} missing, at none of the last known places:")
    for document in missing[:_SHOWN]:
        print(f"  {document.doc_id}  {shown_path(document.paths[0]) if document.paths else '?'}")
    if len(missing) > _SHOWN:
        print(f"  and {len(missing) - _SHOWN} more (`docretriever list` shows them all)")
    if args.dry_run:
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise InvalidInputError(
                "prune asks before it forgets anything; with no terminal to ask on, run it with --yes "
                "(or --dry-run to only list them)."
            )
        them = "it" if len(missing) == 1 else "them"
        answer = input(f"Forget {them} and {'its' if len(missing) == 1 else 'their'} pages? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing was forgotten.")
            return 0
    forgotten = library.prune(missing, progress=bar, cancel=cancel)
    bar.finish()
    kept = len(missing) - len(forgotten)
    back = ""
    if kept:
        was = "was" if kept == 1 else "were"
        back = f"; {counted(kept, 'document')} turned up again or could not be checked, and {was} kept"
    print(f"Forgot {counted(len(forgotten), 'document')} ({counted(pages_of(forgotten), 'page')}){back}.")
    return 0


_SHOWN = 10


def run_compact(library: Library, args: argparse.Namespace, bar: ProgressBar, cancel: CancelToken) -> int:
    """``compact``: see :meth:`Library.compact`. Says what it reclaimed, in decimal units as
    ``info`` does, and the back end's note as it is (why nothing was done, files left)."""
    report = library.compact(progress=bar, cancel=cancel)
    bar.finish()
    if report.pages_moved or report.reclaimed:
        pages = "1 page's vectors" if report.pages_moved == 1 else f"{report.pages_moved} pages' vectors"
        print(
            f"Compacted: {format_bytes(report.bytes_before)} -> {format_bytes(report.bytes_after)} on disk "
            f"({format_bytes(report.reclaimed)} reclaimed); {pages} moved."
        )
    if report.note:
        print(report.note)
    return 0
