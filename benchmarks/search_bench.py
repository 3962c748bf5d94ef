"""Search latency and recall of the fast path against exhaustive exact MaxSim.

    uv run python benchmarks/search_bench.py --pages 10000 --json
    sudo .venv/bin/python benchmarks/search_bench.py --pages 100000 --cold --json
    uv run python benchmarks/search_bench.py --corpus tiny --model /tmp/tiny
    uv run python benchmarks/search_bench.py --corpus learned --pages 10000 --json
    uv run python -m docretriever.testing.tiny_model /tmp/tiny  # once, for tiny and skewed
    uv run python benchmarks/search_bench.py --corpus skewed --model /tmp/tiny --pages 10000 --json [--pseudo]

Corpora:
- ``synthetic`` (default): ColQwen2-shaped pages (24 x 32 = 768 cells of 128-dim unit vectors
  plus 13 prompt rows), clustered as real patch embeddings are: near-identical blank-margin
  cells, and text cells drawn from a per-document vocabulary of "word" directions. Queries have
  20 tokens: 12 words of a target page (with noise) and 8 augmentation-like tokens.
- ``learned``: generated pages (:mod:`docretriever.testing.reading_corpus`) embedded by the
  trained tiny reading model (models/tiny-reader) at --visual-tokens cells, searched with text
  queries of one to three words of a page: learned embeddings, and the real gap between text
  tokens and image cells.
- ``skewed``: the PDFs of ../shared/corpus drawn 10,000+ ways (budgets, rotations, crops) and
  embedded by the tiny random-weight model (:mod:`docretriever.testing.skewed_corpus`): pages
  that all look alike, skewed codes and long inverted lists; text queries, or with --pseudo the
  library's own pseudo-queries (a page's cells plus noise, as ``bench`` falls back to).
- ``tiny``: the PDFs of ../shared/corpus embedded with the tiny random-weight model, searched
  with text queries; it checks the pipeline on real page geometry, not ranking quality.

Reported, all in one run on the same pages and queries: the fast path's median and p95 latency
(with the vectors in the page cache, and on a first pass with the cache as found, or with
``--cold`` emptied first as after a reboot: a library larger than RAM is always partly cold)
and recall@10 against exhaustive exact MaxSim (every query's ground truth, scored in one pass
over all pages), with the share of the exact top 10 that stage one surveys and stage two keeps
for the rerank (where recall is lost); the project's exact mode, timed on --exact-queries
queries; colpali-engine's
``score_multi_vector`` (the reference; on at most --reference-pages pages, extrapolated
linearly beyond); index build speed; RAM held for search (the growth of resident anonymous
memory when a fresh process opens the library and searches it: the memory-mapped vectors are
not in it) and bytes on disk per page.
A built library is kept in --library DIR and reused by later runs with the same settings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from docretriever.embedding.base import QueryEmbedding
from docretriever.library.local import LocalLibrary
from docretriever.search.maxsim import maxsim_score_matrix
from docretriever.search.ranking import fast_path_stages
from docretriever.testing.synthetic import GRID, SyntheticCorpus, synthetic_library, synthetic_queries


def build_synthetic(folder: Path, pages: int, seed: int) -> tuple[LocalLibrary, SyntheticCorpus]:
    started = time.perf_counter()
    library, corpus = synthetic_library(folder, pages, seed)
    print(f"  library ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return library, corpus


def timed(function, repeat: int = 1):  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return result, min(times)


def reference_seconds(library: LocalLibrary, query: np.ndarray, max_pages: int) -> tuple[float, int]:
    """colpali-engine's exhaustive score_multi_vector over up to max_pages pages (float32)."""
    import torch
    from colpali_engine.utils.processing_utils import BaseVisualRetrieverProcessor

    pages = list(library.indexed_pages().values())[:max_pages]
    documents = [torch.from_numpy(library.page_rows(page).astype(np.float32)) for page in pages]
    started = time.perf_counter()
    BaseVisualRetrieverProcessor.score_multi_vector([torch.from_numpy(query)], documents, device="cpu")
    return time.perf_counter() - started, len(pages)


def exhaustive_page_ids(library: LocalLibrary, queries: list[QueryEmbedding], k: int) -> list[set[int]]:
    """Each query's exact top k page ids, scoring every page once for all queries (a
    100,000-page library is read once, not once per query)."""
    pages = library.indexed_pages()
    page_ids = list(pages)
    scores = maxsim_score_matrix(
        [q.vectors for q in queries], [library.page_rows(pages[p]) for p in page_ids]
    )
    return [{page_ids[i] for i in np.argsort(-row, kind="stable")[:k]} for row in scores]


def exhaustive_truth(
    library: LocalLibrary, queries: list[QueryEmbedding], k: int
) -> list[set[tuple[str, int]]]:
    """Each query's exact top k as {(doc_id, page)}."""
    pages = library.indexed_pages()
    return [
        {(library.catalog.document(pages[p].document_id).doc_id, pages[p].index + 1) for p in best}
        for best in exhaustive_page_ids(library, queries, k)
    ]


def keep_rates(library: LocalLibrary, queries: list[QueryEmbedding], k: int) -> tuple[float, float]:
    """The share of each query's exact top k that stage one surveys and that stage two keeps
    for the exact rerank (means over queries; 1.0 where the library is scored exhaustively)."""
    pages = library.indexed_pages()
    kept_one, kept_two = [], []
    for query, best in zip(queries, exhaustive_page_ids(library, queries, k), strict=True):
        stages = fast_path_stages(
            query.vectors, pages.keys(), library.candidates, k, rows_in=lambda p: pages[p].n_rows
        )
        surveyed, shortlist = stages if stages is not None else (list(pages), list(pages))
        kept_one.append(len(best & set(surveyed)) / len(best))
        kept_two.append(len(best & set(shortlist)) / len(best))
    return statistics.mean(kept_one), statistics.mean(kept_two)


def anonymous_rss() -> int:
    """Bytes of this process's resident anonymous memory (heap; memory-mapped files excluded)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


def probe_search_ram(folder: Path) -> None:
    """Run in a fresh process: the anonymous memory that opening the library and searching it
    holds (page table, index, ranking centroids), printed as JSON."""
    from docretriever.library.local.quality import sample_queries

    before = anonymous_rss()
    library = LocalLibrary(folder, create=False)
    queries = sample_queries(library, 5)
    for query in queries:
        library.search_embedding(query, 10)
    print(json.dumps({"pages": len(library.indexed_pages()), "bytes": anonymous_rss() - before}))


def search_ram_bytes(folder: Path) -> int:
    output = subprocess.run(
        [sys.executable, __file__, "--probe-ram", str(folder)], check=True, capture_output=True, text=True
    ).stdout
    return int(json.loads(output.strip().splitlines()[-1])["bytes"])


def index_build_rate(library: LocalLibrary, count: int) -> float:
    """Pages/s added to the library's full index (as the next ingest would), under new ids;
    they are removed again and nothing is saved."""
    index = library.candidates
    pages = list(library.indexed_pages().values())[:count]
    first_new = max(index.page_ids()) + 1
    started = time.perf_counter()
    for offset, page in enumerate(pages):
        index.add_page(first_new + offset, library.page_cells(page), page.grid or GRID)
    rate = len(pages) / (time.perf_counter() - started)
    for offset in range(len(pages)):
        index.remove_page(first_new + offset)
    return rate


def drop_page_cache() -> None:
    """Evict clean file pages from the page cache, as after a reboot (Linux, root only). Pages
    this process has mapped stay; the library has mapped almost none at this point."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("1\n")


def measure(
    library: LocalLibrary, queries: list[QueryEmbedding], args: argparse.Namespace
) -> dict[str, object]:
    n_pages = len(library.indexed_pages())
    library.search_embedding(queries[0], args.k)  # load the index

    def fast_pass() -> tuple[list[float], list[set[tuple[str, int]]]]:
        times, found = [], []
        for query in queries:
            fast, seconds = timed(lambda q=query: library.search_embedding(q, args.k, rerank=args.rerank))
            times.append(seconds * 1000)
            found.append({(h.doc_id, h.page) for h in fast})
        return times, found

    # First with the vectors as the page cache holds them (after a reboot or a larger library:
    # read from disk), then again once the ground truth has read every page (as far as RAM
    # holds them: warm).
    if args.cold:
        drop_page_cache()
    first_ms, _ = fast_pass()
    truth = exhaustive_truth(library, queries, args.k)
    fast_ms, fast_sets = fast_pass()
    recalls = [len(t & f) / len(t) for t, f in zip(truth, fast_sets, strict=True)]
    stage_one_keep, stage_two_keep = keep_rates(library, queries, args.k)
    exact_ms = []
    for query, expected in zip(queries[: args.exact_queries], truth, strict=False):
        exact, seconds = timed(lambda q=query: library.search_embedding(q, args.k, exact=True))
        exact_ms.append(seconds * 1000)
        if {(h.doc_id, h.page) for h in exact} != expected:
            print("  note: exact mode and the batched ground truth differ (a tie?)", file=sys.stderr)
    reference_s, reference_pages = reference_seconds(library, queries[0].vectors, args.reference_pages)
    reference_ms = reference_s * 1000 * n_pages / reference_pages
    build_rate = index_build_rate(library, min(n_pages, 500))
    disk = sum(p.stat().st_size for p in library.folder.rglob("*") if p.is_file())
    median = statistics.median(fast_ms)
    exact_median = statistics.median(exact_ms)
    return {
        "pages": n_pages,
        "queries": len(queries),
        "query_tokens": int(np.median([len(q.vectors) for q in queries])),
        "k": args.k,
        "fast_median_ms": round(median, 2),
        "fast_p95_ms": round(float(np.percentile(fast_ms, 95)), 2),
        "first_pass_cache": "dropped" if args.cold else "as found",
        "fast_first_pass_median_ms": round(statistics.median(first_ms), 2),
        "fast_first_pass_p95_ms": round(float(np.percentile(first_ms, 95)), 2),
        "recall_at_k": round(statistics.mean(recalls), 4),
        "recall_min": round(min(recalls), 2),
        "stage_one_keep": round(stage_one_keep, 4),
        "stage_two_keep": round(stage_two_keep, 4),
        "exact_median_ms": round(exact_median, 2),
        "exact_measured_on_queries": len(exact_ms),
        "reference_colpali_ms": round(reference_ms, 1),
        "reference_measured_on_pages": reference_pages,
        "speedup_vs_reference": round(reference_ms / median, 1),
        "speedup_vs_exact": round(exact_median / median, 1),
        "index_build_pages_per_s": round(build_rate, 1),
        "search_ram_bytes_per_page": round(search_ram_bytes(library.folder) / n_pages),
        "disk_bytes_per_page": round(disk / n_pages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", choices=["synthetic", "learned", "skewed", "tiny"], default="synthetic")
    parser.add_argument("--pages", type=int, default=10_000, help="synthetic pages")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--rerank", type=int, default=None, help="pages scored exactly (default: the library's)"
    )
    parser.add_argument("--reference-pages", type=int, default=2000, help="pages colpali-engine scores")
    parser.add_argument(
        "--exact-queries", type=int, default=10, help="queries timed in exact mode (seconds each at scale)"
    )
    parser.add_argument(
        "--cold", action="store_true", help="drop the page cache before the first pass (Linux, root)"
    )
    parser.add_argument("--probe-ram", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--library", default=None, help="folder to build in (and reuse)")
    parser.add_argument("--model", default=None, help="tiny model folder for --corpus tiny or skewed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--visual-tokens", type=int, default=128, help="cells per page, --corpus learned")
    parser.add_argument("--pseudo", action="store_true", help="--corpus skewed: pseudo-queries, not text")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.probe_ram:
        probe_search_ram(args.probe_ram)
        return

    if args.corpus == "synthetic":
        folder = Path(args.library or f"/tmp/docretriever-bench-{args.seed}-{args.pages}")
        library, corpus = build_synthetic(folder, args.pages, args.seed)
        queries = synthetic_queries(corpus, args.queries, args.pages)
    elif args.corpus == "learned":
        from docretriever.embedding import ModelSpec, load_embedder
        from docretriever.testing.reading_corpus import reading_library, reading_queries

        reader = Path(__file__).resolve().parent.parent / "models" / "tiny-reader"
        embedder = load_embedder(
            ModelSpec(str(args.model or reader), device="cpu", visual_tokens=args.visual_tokens)
        )
        folder = Path(args.library or f"/tmp/docretriever-bench-learned-{args.visual_tokens}-{args.pages}")
        library, words = reading_library(folder, embedder, args.pages, visual_tokens=args.visual_tokens)
        queries = reading_queries(embedder, words, args.queries, seed=args.seed)
    elif args.corpus == "skewed":
        from docretriever.embedding import ModelSpec, load_embedder
        from docretriever.library.local.quality import sample_queries
        from docretriever.testing.skewed_corpus import BUDGETS, skewed_library, skewed_queries

        embedder_for = {
            b: load_embedder(ModelSpec(args.model or "", device="cpu", visual_tokens=b)) for b in BUDGETS
        }
        # The model's folder is in the name: another tiny model must not reuse these pages.
        model_tag = hashlib.sha256(str(Path(args.model or "").resolve()).encode()).hexdigest()[:8]
        folder = Path(args.library or f"/tmp/docretriever-bench-skewed-{args.pages}-{model_tag}")
        corpus_root = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
        library = skewed_library(folder, embedder_for, args.pages, root=corpus_root)
        if args.pseudo:
            queries = sample_queries(library, args.queries, seed=args.seed)
        else:
            queries = skewed_queries(embedder_for[BUDGETS[-1]], args.queries)
    else:
        from docretriever.embedding import ModelSpec, load_embedder

        embedder = load_embedder(ModelSpec(args.model or "", device="cpu"))
        folder = Path(args.library or "/tmp/docretriever-bench-tiny")
        library = LocalLibrary(folder, embedder=embedder)
        corpus_root = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
        library.add([corpus_root / "sample-files", corpus_root / "qpdf-malformed"])
        texts = ["topology", "a form with fields", "arabic text", "a photograph", "a table"] * (
            args.queries // 5 + 1
        )
        queries = embedder.embed_queries(texts[: args.queries])
        if args.rerank is None:
            args.rerank = 32  # a few hundred pages: force the two-stage path
    figures = measure(library, queries, args)
    figures["corpus"] = args.corpus + (" (pseudo-queries)" if args.pseudo else "")
    print(json.dumps(figures, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
