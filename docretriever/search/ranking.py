"""Ranking pages for a query: exhaustive exact MaxSim, or the three-stage fast path.

1. Stage one: each query token's nearest codes in the shared codebook; every page filed under
   them is scored by those codes' similarities, and the best ``survey`` pages go on.
2. Stage two: those pages are ranked by MaxSim over their centroids (in RAM, int8).
3. The best ``rerank`` pages are scored exactly on their stored vectors.

Whatever the path, every returned score is exact MaxSim.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np

from docretriever.search.candidates import PROBED_CODES, CandidateIndex
from docretriever.search.maxsim import maxsim_scores

RowsOf = Callable[[int], np.ndarray]
RowCount = Callable[[int], int | None]  # a page's stored rows; None when not known
Prefetch = Callable[[Sequence[int]], None]

# A library this small is scored exhaustively: exact MaxSim costs about 0.2 ms a page on 2 cores
# (float16 storage), so this stays within the fast path's 20 ms.
EXACT_LIBRARY_PAGES = 100
# Pages scored exactly: at least RERANK_PAGES, or RERANK_PER_HIT per requested hit.
RERANK_PAGES = 32
RERANK_PER_HIT = 3
# The rerank's cost grows with the stored rows it reads (~0.35 us a row here): its budget is
# that of RERANK_PAGES pages at the default budget (768 cells and 13 prompt rows), and smaller
# pages (a lower visual-token budget, a cropped or short page) are reranked in greater number
# within it, at most RERANK_MOST_TIMES as many (a page costs more than its rows alone). Measured
# on real PDFs embedded by the random tiny model (benchmarks/search_bench.py --corpus skewed,
# 10,000 pages, median 263 rows): stage two's best 32 pages held 95.2 % of the exact top 10, its
# best 64 (or 96) 96.4 %, all that stage one had kept; 64 took ~30 % longer than 32 there, still
# below a search of full-size pages.
TYPICAL_PAGE_ROWS = 781
RERANK_MOST_TIMES = 2
# Pages ranked by their centroids in stage two: at least SURVEY_PAGES, or SURVEY_PER_RERANK
# times the pages reranked.
SURVEY_PAGES = 400
SURVEY_PER_RERANK = 4
# The most a library widens its fast path (see ``widen`` below and library/recall_watch.py).
MAX_WIDENING = 8


def exact_top_k(
    query: np.ndarray, page_ids: Sequence[int], rows_of: RowsOf, k: int
) -> list[tuple[int, float]]:
    """The ``k`` best of ``page_ids`` by exact MaxSim, best first, as (page id, score).

    ``query`` is float32 (n_tokens, dim); ``rows_of(page_id)`` returns the page's stored rows,
    shape (n_rows, dim), float16 or float32.
    """
    if not page_ids:
        return []
    scores = maxsim_scores(query, [rows_of(page_id) for page_id in page_ids])
    order = np.argsort(-scores, kind="stable")[:k]
    return [(page_ids[i], float(scores[i])) for i in order]


def two_stage_top_k(
    query: np.ndarray,
    page_ids: Collection[int],
    index: CandidateIndex,
    rows_of: RowsOf,
    k: int,
    *,
    rerank: int | None = None,
    prefetch: Prefetch | None = None,
    widen: int = 1,
    rows_in: RowCount | None = None,
    coarse: np.ndarray | None = None,
) -> list[tuple[int, float]]:
    """The ``k`` best pages, scoring exactly only the ``rerank`` best by centroid MaxSim.

    ``query`` is float32 (n_tokens, dim). ``page_ids`` are the pages that may be returned (the
    indexed ones); a set or a dict's keys, as it is only tested for membership (copying 100,000
    ids would cost milliseconds a query). A library of at most ``EXACT_LIBRARY_PAGES`` (or
    ``rerank``) pages is scored exhaustively; one of at most ``SURVEY_PAGES`` skips stage one.
    ``prefetch(page_ids)``, when given, is told the reranked pages before their rows are read.
    ``widen`` (1 to ``MAX_WIDENING``) multiplies every stage: the codes probed per query token,
    the pages surveyed and the pages reranked; a library whose measured recall is low widens
    its own (:mod:`~docretriever.library.local.recall_watch`). ``rows_in(page_id)``, when given, is a
    page's stored row count: the rerank then takes as many pages as fit in ``rerank`` pages of
    ``TYPICAL_PAGE_ROWS`` rows (more of smaller pages, never fewer than ``rerank``).
    ``coarse``, float32 (n, dim), when given, is what stages one and two score with instead of
    ``query`` (a page taken as the query: its centroids); the rerank always scores ``query``.
    """
    first = query if coarse is None else coarse
    stages = fast_path_stages(first, page_ids, index, k, rerank=rerank, widen=widen, rows_in=rows_in)
    if stages is None or len(stages[1]) < k:  # small, or the index lacks pages (being rebuilt)
        return exact_top_k(query, list(page_ids), rows_of, k)
    shortlist = stages[1]
    if prefetch is not None:
        prefetch(shortlist)
    return exact_top_k(query, shortlist, rows_of, k)


def fast_path_stages(
    query: np.ndarray,
    page_ids: Collection[int],
    index: CandidateIndex,
    k: int,
    *,
    rerank: int | None = None,
    widen: int = 1,
    rows_in: RowCount | None = None,
) -> tuple[list[int], list[int]] | None:
    """The fast path's first two stages as :func:`two_stage_top_k` runs them: (the pages
    stage one surveyed, the shortlist stage two keeps for the exact rerank, best first), or
    None where the library is small enough to be scored exhaustively. Benchmarks measure the
    stages' keep rates with it."""
    widen = min(max(1, widen), MAX_WIDENING)
    rerank = (rerank or max(RERANK_PAGES, RERANK_PER_HIT * k)) * widen
    if len(page_ids) <= max(rerank, EXACT_LIBRARY_PAGES):
        return None
    survey = max(SURVEY_PAGES * widen, SURVEY_PER_RERANK * rerank)
    if len(page_ids) <= survey:
        candidates = list(page_ids)
    else:
        # ``page_ids`` may be some documents of a larger library (a search within them): stage
        # one then ranks only their pages, so that ``survey`` of them come out however small a
        # part of the library they are (an exhaustive score of a mid-sized scope would cost as
        # much as searching a library of its size without an index).
        only = page_ids if len(page_ids) < len(index) else None
        surveyed = index.survey(query, survey, probes=PROBED_CODES * widen, only=only)
        candidates = [p for p in surveyed if p in page_ids][:survey]
    scores = index.pooled_scores(query, candidates)
    order = np.argsort(-scores, kind="stable")[: rerank * (RERANK_MOST_TIMES if rows_in else 1)]
    ranked = [candidates[i] for i in order if np.isfinite(scores[i])]
    return candidates, ranked[: rerank_count(ranked, rerank, rows_in)]


def rerank_count(ranked: Sequence[int], rerank: int, rows_in: RowCount | None) -> int:
    """How many of ``ranked`` (best first) to score exactly: ``rerank``, or, knowing each page's
    rows, as many as fit in ``rerank * TYPICAL_PAGE_ROWS`` rows (at least ``rerank``, at most
    ``RERANK_MOST_TIMES`` times as many)."""
    if rows_in is None:
        return rerank
    budget, used = rerank * TYPICAL_PAGE_ROWS, 0
    for count, page_id in enumerate(ranked[: rerank * RERANK_MOST_TIMES]):
        used += rows_in(page_id) or TYPICAL_PAGE_ROWS
        if used > budget:
            return max(rerank, count)
    return min(len(ranked), rerank * RERANK_MOST_TIMES)
