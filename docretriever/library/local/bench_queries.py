"""Which queries ``docretriever bench`` measures the fast path on, and how it says so.

Real queries measure best: text queries sit in another region of the embedding space than the
page cells they are compared with (the modality gap), and a first stage tuned on pages can do
worse on them than on pseudo-queries made of a page's own cells. So, in order of preference:
the queries given (as arguments, or a file of one query per line), the person's recent searches
(:mod:`~docretriever.library.recent_searches`, when at least :data:`MIN_RECENT` are kept), and
only then pseudo-queries sampled from the library's pages (:func:`quality.sample_queries`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docretriever.documents.discover import shown_path
from docretriever.embedding.base import QueryEmbedding
from docretriever.errors import InvalidInputError
from docretriever.library.local.quality import sample_queries
from docretriever.library.recent_searches import RecentSearches

if TYPE_CHECKING:
    from docretriever.library.local.library import LocalLibrary

# Fewer recent searches than this measure too little: pseudo-queries are used instead.
MIN_RECENT = 5
PSEUDO_NOTE = "they measure less well than real ones"


@dataclass(frozen=True)
class BenchQueries:
    """The queries chosen, and ``source``: where they come from, in words ("20 of your recent
    searches", "12 queries from q.txt", ...), for the line that reports the figures."""

    queries: list[QueryEmbedding]
    source: str


def read_query_file(path: str | os.PathLike[str]) -> list[str]:
    """The queries in a text file, one a line (blank lines skipped, spaces trimmed). Raises
    InvalidInputError when it cannot be read or holds none."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            lines = [" ".join(line.split()) for line in handle]
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{shown_path(os.fspath(path))} is not a text file in UTF-8.") from exc
    except OSError as exc:
        raise InvalidInputError(f"Cannot read {shown_path(os.fspath(path))}: {exc.strerror}.") from exc
    queries = [line for line in lines if line]
    if not queries:
        raise InvalidInputError(f"{shown_path(os.fspath(path))} holds no queries (one a line).")
    return queries


def bench_queries(
    library: LocalLibrary,
    given: Sequence[str] = (),
    query_file: str | os.PathLike[str] | None = None,
    count: int = 20,
) -> BenchQueries:
    """The queries to measure on: ``given`` (typed), else those in ``query_file``, else up to
    ``count`` of the newest recent searches (at least :data:`MIN_RECENT`), else ``count``
    pseudo-queries. Text queries are embedded with the library's model (loaded if needed).
    Raises InvalidInputError for both ``given`` and a file, or for a file that cannot be used."""
    if count < 1:
        raise InvalidInputError("The number of queries (-n) must be at least 1.")
    given = [text for text in (" ".join(q.split()) for q in given) if text]
    if given and query_file is not None:
        raise InvalidInputError(
            "Give the queries either on the command line or with --queries FILE, not both."
        )
    if given:
        return BenchQueries(
            library.embedder.embed_queries(given), _counted(len(given), "given query", "given queries")
        )
    if query_file is not None:
        texts = read_query_file(query_file)
        name = shown_path(os.fspath(query_file))
        return BenchQueries(
            library.embedder.embed_queries(texts), f"{_counted(len(texts), 'query', 'queries')} from {name}"
        )
    history = RecentSearches(library.folder).read()
    # Enough searches remembered is what counts, not -n: `bench -n 3` with 6 remembered takes 3.
    if len(history.queries) >= MIN_RECENT:
        recent = list(history.queries[:count])
        return BenchQueries(library.embedder.embed_queries(recent), f"{len(recent)} of your recent searches")
    if not history.remembering:
        why = "remembering searches is off"
    elif not history.queries:
        why = "no recent searches yet"
    else:
        remembered = _counted(len(history.queries), "recent search", "recent searches")
        why = f"only {remembered} so far, {MIN_RECENT} needed"
    pseudo = sample_queries(library, count)
    return BenchQueries(
        pseudo, f"{len(pseudo)} pseudo-queries sampled from the library's pages ({why}; {PSEUDO_NOTE})"
    )


def _counted(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"
