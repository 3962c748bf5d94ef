"""How much the fast search path costs a library: recall against exact search, and latency."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from docretriever.embedding.base import QueryEmbedding
from docretriever.errors import InvalidInputError

if TYPE_CHECKING:
    from docretriever.library.local.library import LocalLibrary


@dataclass(frozen=True)
class SearchCheck:
    """Recall@k of the fast path against exhaustive exact MaxSim, and median latencies (ms)."""

    pages: int
    queries: int
    k: int
    recall: float
    fast_median_ms: float
    exact_median_ms: float


def sample_queries(
    library: LocalLibrary, count: int, tokens: int = 20, seed: int = 0
) -> list[QueryEmbedding]:
    """Pseudo-queries from the library itself: each takes ``tokens`` cell vectors of one random
    page (preferring distinct ones), so no model is needed. Real queries are better when known."""
    pages = list(library.indexed_pages().values())
    if not pages:
        raise InvalidInputError("The library has no indexed pages to check yet.")
    rng = np.random.default_rng(seed)
    queries = []
    for number in range(count):
        page = pages[int(rng.integers(len(pages)))]
        cells = np.asarray(library.page_cells(page), dtype=np.float32)
        picked = cells[rng.choice(len(cells), size=min(tokens, len(cells)), replace=False)]
        noisy = picked + 0.05 * rng.normal(size=picked.shape).astype(np.float32)
        vectors = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
        queries.append(
            QueryEmbedding(f"sample {number}", vectors, ("",) * len(vectors), np.ones(len(vectors), bool))
        )
    return queries


def check_search(library: LocalLibrary, queries: Sequence[QueryEmbedding], k: int = 10) -> SearchCheck:
    """Run each query on the fast path and exhaustively; compare the top ``k`` page sets."""
    fast_ms, exact_ms, recalls = [], [], []
    for query in queries:
        started = time.perf_counter()
        fast = library.search_embedding(query, k)
        fast_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        exact = library.search_embedding(query, k, exact=True)
        exact_ms.append((time.perf_counter() - started) * 1000)
        truth = {(hit.doc_id, hit.page) for hit in exact}
        recalls.append(len(truth & {(hit.doc_id, hit.page) for hit in fast}) / max(1, len(truth)))
    return SearchCheck(
        pages=len(library.indexed_pages()),
        queries=len(queries),
        k=k,
        recall=statistics.mean(recalls),
        fast_median_ms=statistics.median(fast_ms),
        exact_median_ms=statistics.median(exact_ms),
    )
