"""Search latency within part of a library: a 1 % and a 30 % scope of a 10,000-page library.

    uv run python benchmarks/scope_bench.py --pages 10000 --json

A search within some documents (``search --in``, the app's "search the selection") must stay on
the fast path: stage one ranks only the scope's pages (see ``CandidateIndex.survey``'s ``only``),
so a scope of any size is surveyed, shortlisted and reranked like a library of its own. A scope
of at most ``EXACT_LIBRARY_PAGES`` pages (100: the 1 % scope of 10,000 pages) is scored
exhaustively, as a library that small is.

Reported for each scope, in one run on the same synthetic pages and queries (see
``search_bench.py`` for the corpus): the fast path's median and p95 latency, the exact search's
median within the same scope (what a fallback to exhaustive scoring would cost), and the fast
path's recall@10 against that exact search. The whole library, unscoped, is measured alongside.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_bench import build_synthetic

from docretriever.embedding.base import QueryEmbedding
from docretriever.library.local import LocalLibrary
from docretriever.testing.synthetic import synthetic_queries


def scope_of(library: LocalLibrary, fraction: float, seed: int) -> tuple[list[str], int]:
    """Documents drawn at random until they hold ``fraction`` of the library's pages: (doc ids,
    pages held)."""
    documents = list(library.documents())
    order = np.random.default_rng(seed).permutation(len(documents))
    total = sum(d.page_count for d in documents)
    chosen, pages = [], 0
    for i in order:
        if pages >= fraction * total:
            break
        chosen.append(documents[i].doc_id)
        pages += documents[i].page_count
    return chosen, pages


def time_searches(
    library: LocalLibrary, queries: list[QueryEmbedding], k: int, within: list[str] | None, exact: bool
) -> tuple[list[float], list[list[tuple[str, int]]]]:
    times, found = [], []
    for query in queries:
        started = time.perf_counter()
        hits = library.search_embedding(query, k, exact=exact, within=within)
        times.append((time.perf_counter() - started) * 1000)
        found.append([(h.doc_id, h.page) for h in hits])
    return times, found


def measure_scope(
    library: LocalLibrary, queries: list[QueryEmbedding], args: argparse.Namespace, fraction: float | None
) -> dict[str, object]:
    if fraction is None:
        within, pages = None, len(library.indexed_pages())
    else:
        within, pages = scope_of(library, fraction, seed=1)
    library.search_embedding(queries[0], args.k, within=within)  # warm: the index and the page cache
    fast_ms, fast = time_searches(library, queries, args.k, within, exact=False)
    exact_ms, exact = time_searches(library, queries[: args.exact_queries], args.k, within, exact=True)
    recalls = [len(set(f) & set(e)) / max(1, len(e)) for f, e in zip(fast, exact, strict=False)]
    outside = sum(1 for hits in fast for doc_id, _ in hits if within is not None and doc_id not in within)
    return {
        "scope": "whole library" if fraction is None else f"{fraction:.0%}",
        "scope_pages": pages,
        "fast_median_ms": round(statistics.median(fast_ms), 2),
        "fast_p95_ms": round(float(np.percentile(fast_ms, 95)), 2),
        "exact_median_ms": round(statistics.median(exact_ms), 2),
        "recall_at_k_vs_exact_in_scope": round(statistics.mean(recalls), 4),
        "hits_outside_scope": outside,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=10_000, help="synthetic pages")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--exact-queries", type=int, default=10, help="queries timed in exact mode")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--scopes", type=float, nargs="+", default=[0.01, 0.30], help="fractions")
    parser.add_argument("--library", default=None, help="folder to build in (and reuse)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(args.library or f"/tmp/docretriever-bench-{args.seed}-{args.pages}")
    library, corpus = build_synthetic(folder, args.pages, args.seed)
    queries = synthetic_queries(corpus, args.queries, args.pages)
    rows = [measure_scope(library, queries, args, None)]
    rows += [measure_scope(library, queries, args, fraction) for fraction in args.scopes]
    library.close()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print("  ".join(f"{k}: {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
