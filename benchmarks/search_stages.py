"""Time and recall of each fast-path stage, for several stage-one widths, on a built library.

    cd benchmarks && uv run python search_stages.py --pages 10000 --probes 2,8 --recall

Uses the synthetic library that ``search_bench.py --pages N`` built. For each number of codes
probed per query token: the median milliseconds of stage one (codebook and inverted lists),
stage two (centroid MaxSim over the surveyed pages) and the exact rerank; with ``--recall``, the
share of the exact top 10 still present after stage one and after stage two (ground truth
scored exhaustively).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from search_bench import exhaustive_page_ids

from docretriever.library.local import LocalLibrary
from docretriever.search import candidates, ranking
from docretriever.testing.synthetic import SyntheticCorpus, SyntheticEmbedder, synthetic_queries


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--probes", default="8", help="comma-separated codes probed per query token")
    parser.add_argument("--recall", action="store_true", help="also score the ground truth (slow)")
    args = parser.parse_args()

    library = LocalLibrary(
        f"/tmp/docretriever-bench-0-{args.pages}", embedder=SyntheticEmbedder(), create=False
    )
    pages, index = library.indexed_pages(), library.candidates
    queries = synthetic_queries(SyntheticCorpus(0), args.queries, args.pages)
    truth = exhaustive_page_ids(library, queries, 10) if args.recall else None
    survey = max(ranking.SURVEY_PAGES, ranking.SURVEY_PER_RERANK * ranking.RERANK_PAGES)
    print(f"codebook: {index.codebook_size} codes", flush=True)
    for probes in (int(n) for n in args.probes.split(",")):
        candidates.PROBED_CODES = probes
        times: dict[str, list[float]] = {"stage one": [], "stage two": [], "exact": []}
        kept_one = kept_two = 0
        for number, query in enumerate(queries):
            started = time.perf_counter()
            surveyed = [p for p in index.survey(query.vectors, survey) if p in pages]
            times["stage one"].append(time.perf_counter() - started)
            started = time.perf_counter()
            scores = index.pooled_scores(query.vectors, surveyed)
            shortlist = [surveyed[i] for i in np.argsort(-scores, kind="stable")[: ranking.RERANK_PAGES]]
            times["stage two"].append(time.perf_counter() - started)
            started = time.perf_counter()
            ranking.exact_top_k(query.vectors, shortlist, lambda p: library.page_rows(pages[p]), 10)
            times["exact"].append(time.perf_counter() - started)
            if truth is not None:
                kept_one += len(truth[number] & set(surveyed))
                kept_two += len(truth[number] & set(shortlist))
        line = ", ".join(f"{stage} {1000 * statistics.median(t):.1f} ms" for stage, t in times.items())
        if truth is not None:
            total = 10 * len(queries)
            line += f"; recall after stage one {kept_one / total:.3f}, after stage two {kept_two / total:.3f}"
        print(f"{probes} codes per token: {line}", flush=True)


if __name__ == "__main__":
    main()
