"""Ranking pages for a query: exhaustive exact MaxSim, or the three-stage fast path.

1. USearch finds each query token's nearest page centroids; the pages they belong to are the
   candidates (at least ``SURVEY_PAGES`` of them).
2. The candidates are ranked by MaxSim over their centroids (in RAM, int8).
3. The best ``rerank`` pages are scored exactly on their stored vectors.

Whatever the path, every returned score is exact MaxSim.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np

from docretriever.search.candidates import CandidateIndex
from docretriever.search.maxsim import maxsim_scores

RowsOf = Callable[[int], np.ndarray]

# A library this small is scored exhaustively: exact MaxSim costs about 0.2 ms a page on 2 cores
# (float16 storage), so this stays within the fast path's 20 ms.
EXACT_LIBRARY_PAGES = 100
# Pages scored exactly: at least RERANK_PAGES, or RERANK_PER_HIT per requested hit.
RERANK_PAGES = 32
RERANK_PER_HIT = 3
# Pages ranked by their centroids in stage two: at least SURVEY_PAGES, or SURVEY_PER_RERANK
# times the pages reranked.
SURVEY_PAGES = 400
SURVEY_PER_RERANK = 4
# Nearest centroids fetched per query token in stage one: CANDIDATES_PER_TOKEN for every
# CANDIDATES_SCALE_PAGES pages (at least CANDIDATES_PER_TOKEN), widened when too few pages come
# back. It grows with the library because the number of pages holding a vector close to any one
# query token does: a fixed count samples an ever smaller share of them. On the synthetic
# benchmark at 10,000 pages, 64 found 93.8 % of the exact top 10 and 128 found 99.2 %; at
# 100,000 pages even 1,280 found only 78.6 % (benchmarks/search_stages.py, search_bench.py).
CANDIDATES_PER_TOKEN = 128
CANDIDATES_SCALE_PAGES = 10_000


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
    per_token: int | None = None,
) -> list[tuple[int, float]]:
    """The ``k`` best pages, scoring exactly only the ``rerank`` best by centroid MaxSim.

    ``page_ids`` are the pages that may be returned (the indexed ones); a set or a dict's keys,
    as it is only tested for membership (copying 100,000 ids would cost milliseconds a query).
    A library of at most ``rerank`` pages is scored exhaustively; one of at most
    ``SURVEY_PAGES`` skips stage one.
    """
    rerank = rerank or max(RERANK_PAGES, RERANK_PER_HIT * k)
    if len(page_ids) <= rerank:
        return exact_top_k(query, list(page_ids), rows_of, k)
    survey = max(SURVEY_PAGES, SURVEY_PER_RERANK * rerank)
    candidates = (
        list(page_ids)
        if len(page_ids) <= survey
        else _nearest_pages(query, page_ids, index, survey, per_token)
    )
    scores = index.pooled_scores(query, candidates)
    order = np.argsort(-scores, kind="stable")[:rerank]
    shortlist = [candidates[i] for i in order if np.isfinite(scores[i])]
    if len(shortlist) < k:  # the index lacks pages (being rebuilt): stay exact
        return exact_top_k(query, list(page_ids), rows_of, k)
    return exact_top_k(query, shortlist, rows_of, k)


def _nearest_pages(
    query: np.ndarray, allowed: Collection[int], index: CandidateIndex, survey: int, per_token: int | None
) -> list[int]:
    """Stage one: pages holding the query tokens' nearest centroids, widening the lookup until
    ``survey`` distinct pages come back (tokens' neighbours cluster on few pages)."""
    scaled = round(CANDIDATES_PER_TOKEN * len(allowed) / CANDIDATES_SCALE_PAGES)
    per_token = per_token or max(CANDIDATES_PER_TOKEN, scaled)
    while True:
        found = index.approximate_scores(query, per_token)
        pages = [p for p in sorted(found, key=found.__getitem__, reverse=True) if p in allowed]
        if len(pages) >= survey or per_token >= len(index):
            return pages[:survey]
        per_token *= 4
