"""Ingest and search throughput of the whole pipeline on a folder of PDFs, in one process.

    uv run python benchmarks/smoke_bench.py --model /tmp/tiny --corpus ../shared/corpus/sample-files

With the tiny random-weight model this measures the pipeline's own overhead (rendering, storage,
indexing, search), not a real model's speed. Reports medians; the model is loaded (and warmed
up) before anything is timed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from docretriever.embedding import ModelSpec, load_embedder
from docretriever.library import open_library

QUERIES = ["topology lecture notes", "an annotated form", "arabic text", "a table of figures"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="model folder or Hub id")
    parser.add_argument("--corpus", default="../shared/corpus/sample-files", help="folder of PDFs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=5, help="times each query is run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    embedder = load_embedder(ModelSpec(args.model, device=args.device))
    embedder.embed_queries(["warm up"])
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        library = open_library(folder, embedder=embedder)
        started = time.perf_counter()
        report = library.add([args.corpus])
        seconds = time.perf_counter() - started
        figures["pages"] = report.pages_embedded
        figures["ingest_pages_per_s"] = report.pages_embedded / seconds
        for exact in (False, True):
            times = []
            for query in QUERIES * args.rounds:
                started = time.perf_counter()
                library.search(query, k=10, exact=exact)
                times.append(time.perf_counter() - started)
            figures[f"search_{'exact' if exact else 'two_stage'}_median_ms"] = statistics.median(times) * 1000
        library.close()
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"ingest: {figures['pages']:.0f} pages at {figures['ingest_pages_per_s']:.1f} pages/s")
    print(f"search (k=10), two-stage: median {figures['search_two_stage_median_ms']:.1f} ms")
    print(f"search (k=10), exhaustive: median {figures['search_exact_median_ms']:.1f} ms")


if __name__ == "__main__":
    main()
