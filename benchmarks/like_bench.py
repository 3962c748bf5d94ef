"""Latency of "more like this page" against a text query, on the same synthetic library.

    uv run python benchmarks/like_bench.py --pages 10000 --json

A page taken as the query has 768 cell rows against a text query's 20 tokens. The library's
``search_like`` surveys and ranks with the page's 96 centroids and scores only the shortlist
with its cells; this compares, in one run and interleaved so that load on the machine hits all
alike: a text query (``search_embedding``), ``search_like``, and the same page query with its
cells in every stage (``coarse`` dropped: what a raw page-as-query would cost). With
``--exact-queries N``, also how many of exact search's top k the fast path finds for N pages
(exact search of 768 rows over every page takes tens of seconds each at 10,000 pages).
The library is :func:`~docretriever.testing.synthetic.synthetic_library`'s, built in (and reused
from) the same folder as ``benchmarks/search_bench.py`` uses.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from docretriever.testing.synthetic import synthetic_library, synthetic_queries


def _ms(function) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = function()
    return (time.perf_counter() - started) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=20, help="text queries, and pages taken as queries")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--exact-queries", type=int, default=0, help="pages whose fast results are checked")
    parser.add_argument("--library", default=None, help="folder to build in (and reuse)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    folder = Path(args.library or f"/tmp/docretriever-bench-{args.seed}-{args.pages}")
    started = time.perf_counter()
    library, corpus = synthetic_library(folder, args.pages, args.seed)
    print(f"  library ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    texts = synthetic_queries(corpus, args.queries, args.pages)
    rng = np.random.default_rng(args.seed)
    documents = library.documents()
    pages = [
        (documents[int(rng.integers(len(documents)))].doc_id, int(rng.integers(1, 21)))
        for _ in range(args.queries)
    ]
    library.search_embedding(texts[0], args.k)  # load the index and map the vectors
    library.search_like(*pages[0], k=args.k)

    text_ms, like_ms, query_ms, raw_ms = [], [], [], []
    for text, (doc_id, page) in zip(texts, pages, strict=True):
        text_ms.append(_ms(lambda q=text: library.search_embedding(q, args.k))[0])
        like_ms.append(_ms(lambda d=doc_id, p=page: library.search_like(d, p, k=args.k))[0])
        seconds, like = _ms(lambda d=doc_id, p=page: library.page_query(d, p))
        query_ms.append(seconds)
        raw = dataclasses.replace(like.query, coarse=None)  # type: ignore[attr-defined]
        raw_ms.append(_ms(lambda q=raw: library.search_embedding(q, args.k + 1))[0])

    found = []
    for doc_id, page in pages[: args.exact_queries]:
        fast = {(h.doc_id, h.page) for h in library.search_like(doc_id, page, k=args.k)}
        exact = {(h.doc_id, h.page) for h in library.search_like(doc_id, page, k=args.k, exact=True)}
        found.append(len(fast & exact) / len(exact))

    like = library.page_query(*pages[0])
    result = {
        "pages": len(library.indexed_pages()),
        "queries": args.queries,
        "k": args.k,
        "text_query_rows": int(np.median([len(q.vectors) for q in texts])),
        "page_query_rows": len(like.query.vectors),
        "page_query_coarse_rows": len(like.query.coarse) if like.query.coarse is not None else None,
        "text_median_ms": round(statistics.median(text_ms), 1),
        "like_median_ms": round(statistics.median(like_ms), 1),
        "like_of_which_page_query_median_ms": round(statistics.median(query_ms), 1),
        "like_cells_in_every_stage_median_ms": round(statistics.median(raw_ms), 1),
        "like_over_text": round(statistics.median(like_ms) / statistics.median(text_ms), 1),
        "cells_in_every_stage_over_text": round(statistics.median(raw_ms) / statistics.median(text_ms), 1),
    }
    if found:
        result["like_recall_at_k_vs_exact"] = round(statistics.mean(found), 3)
        result["like_recall_measured_on_pages"] = len(found)
    library.close()
    print(json.dumps(result, indent=2) if args.json else result)


if __name__ == "__main__":
    main()
