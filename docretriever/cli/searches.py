"""``docretriever searches``: what the library remembers of the person's searches, and the
search-quality line of ``info`` (the recall watch's last measurement)."""

from __future__ import annotations

import argparse

from docretriever.errors import InvalidInputError
from docretriever.library import Library
from docretriever.library.local.recall_watch import RecallRecord
from docretriever.library.recent_searches import LIMIT, RecentSearches


def run_searches(library: Library, args: argparse.Namespace) -> int:
    """Show how many searches are remembered (``--list``: which), or ``--forget`` them, or
    turn remembering ``--off`` (forgetting them) or ``--on``."""
    from docretriever.library.local import LocalLibrary

    if not isinstance(library, LocalLibrary):
        raise InvalidInputError("Searches are remembered by local libraries only (--library FOLDER).")
    searches = RecentSearches(library.folder)
    if args.off:
        forgotten = len(searches.queries())
        searches.set_remembering(False)
        print(f"Searches are no longer remembered; {_searches(forgotten)} forgotten.")
        return 0
    if args.on:
        searches.set_remembering(True)
        print("Searches are remembered again (`docretriever bench` measures the fast path on them).")
        return 0
    if args.forget:
        print(f"Forgot {_searches(searches.forget())}.")
        return 0
    history = searches.read()
    if args.list:
        for query in history.queries:
            print(query)
        return 0
    if not history.remembering:
        print("Searches are not remembered (turned off); `docretriever searches --on` turns it on.")
        return 0
    print(
        f"{_searches(len(history.queries))} remembered (at most {LIMIT}), used by `docretriever bench` "
        "and the library's recall watch; `--list` shows them, `--forget` forgets them, `--off` stops it."
    )
    return 0


def search_quality_line(record: dict[str, object] | None) -> str:
    """``info``'s line: the recall watch's last figure, or that there is none yet."""
    parsed = RecallRecord.from_dict(record) if record else None
    if parsed is None:
        return (
            "not measured yet (the app measures the fast path on your searches when idle; "
            "libraries of up to 100 pages are always searched exactly)"
        )
    return parsed.describe()


def _searches(count: int) -> str:
    return "1 search" if count == 1 else f"{count} searches"
