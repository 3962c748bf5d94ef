"""Ranking pages for a query: exhaustive exact MaxSim, or the two-stage fast path.

The fast path asks the USearch index for each query token's nearest pooled vectors, ranks the
pages those belong to by the best similarity found per token (an approximate MaxSim), and
scores only the best ``rerank`` of them exactly on their stored vectors. Whatever the path,
every returned score is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from docretriever.search.candidates import CandidateIndex
from docretriever.search.maxsim import maxsim_scores

RowsOf = Callable[[int], np.ndarray]

# Exact scores for this many candidate pages (or RERANK_PER_HIT per requested hit, if more).
RERANK_PAGES = 100
RERANK_PER_HIT = 10
# Nearest pooled vectors fetched per query token in the first stage.
CANDIDATES_PER_TOKEN = 64


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
    page_ids: Sequence[int],
    index: CandidateIndex,
    rows_of: RowsOf,
    k: int,
    *,
    rerank: int | None = None,
    per_token: int | None = None,
) -> list[tuple[int, float]]:
    """The ``k`` best pages, scoring exactly only the ``rerank`` best approximate candidates.

    ``page_ids`` are the pages that may be returned (the indexed ones). Falls back to
    :func:`exact_top_k` over all of them when there are no more than ``rerank`` pages, or when
    the index cannot produce ``k`` candidates.
    """
    rerank = rerank or max(RERANK_PAGES, RERANK_PER_HIT * k)
    per_token = per_token or CANDIDATES_PER_TOKEN
    if len(page_ids) <= rerank:
        return exact_top_k(query, page_ids, rows_of, k)
    allowed = set(page_ids)
    ranked: list[int] = []
    # Query tokens' neighbours cluster on few pages: widen the lookup until enough distinct
    # pages come back.
    while True:
        approximate = index.approximate_scores(query, per_token)
        ranked = [p for p in sorted(approximate, key=approximate.__getitem__, reverse=True) if p in allowed]
        if len(ranked) >= rerank or per_token >= len(index):
            break
        per_token *= 4
    if len(ranked) < k:
        return exact_top_k(query, page_ids, rows_of, k)
    return exact_top_k(query, ranked[:rerank], rows_of, k)
