"""The fast search path against exhaustive exact MaxSim, on synthetic ColQwen2-shaped pages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from docretriever.library.local.quality import check_search, sample_queries
from docretriever.search import ranking
from docretriever.search.candidates import CandidateIndex
from docretriever.storage.vectors import VectorStore
from docretriever.testing.synthetic import SyntheticCorpus, synthetic_library, synthetic_queries


def test_the_three_stage_path_finds_what_exact_search_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library, corpus = synthetic_library(tmp_path / "lib", 600, seed=3)
    assert ranking.SURVEY_PAGES < 600  # so stage one really runs
    assert library.candidates.codebook_size > 0
    queries = synthetic_queries(corpus, 12, 600)
    check = check_search(library, queries, k=10)
    assert check.pages == 600 and check.queries == 12
    assert check.recall >= 0.95
    exact = {(h.doc_id, h.page): h.score for h in library.search_embedding(queries[0], 600, exact=True)}
    for hit in library.search_embedding(queries[0], 10):
        assert hit.score == pytest.approx(exact[(hit.doc_id, hit.page)], rel=1e-6)  # scores are exact
    # The reranked pages are read ahead all at once (a cold rerank waits for one round of reads).
    prefetched: list[tuple[int, int, int]] = []
    monkeypatch.setattr(VectorStore, "prefetch", lambda self, ranges: prefetched.extend(ranges))
    hits = library.search_embedding(queries[1], 10)
    pages = library.indexed_pages()
    assert len(prefetched) == ranking.RERANK_PAGES
    place = {(library.catalog.document(p.document_id).doc_id, p.index + 1): p for p in pages.values()}
    for hit in hits:
        page = place[(hit.doc_id, hit.page)]
        assert (page.segment, page.row_offset, page.n_rows) in prefetched
    # The library measures itself with pseudo-queries too (the `bench` command).
    assert check_search(library, sample_queries(library, 5), k=10).recall >= 0.9


def test_a_small_library_is_searched_exactly(tmp_path: Path) -> None:
    pages = ranking.EXACT_LIBRARY_PAGES
    library, corpus = synthetic_library(tmp_path / "lib", pages, seed=4)
    for query in synthetic_queries(corpus, 5, pages):
        fast = library.search_embedding(query, 10)
        exact = library.search_embedding(query, 10, exact=True)
        assert [(h.doc_id, h.page) for h in fast] == [(h.doc_id, h.page) for h in exact]
        # Equal up to the last bits: BLAS sums in an order that depends on buffer alignment.
        assert [h.score for h in fast] == pytest.approx([h.score for h in exact], rel=1e-6)


def test_the_index_file_keeps_the_ranking_centroids(tmp_path: Path) -> None:
    corpus = SyntheticCorpus(5)
    index = CandidateIndex(tmp_path / "index.usearch", 128)
    for number in range(30):
        index.add_page(number + 1, corpus.page(number)[0][:768], (24, 32))
    index.save()
    reloaded = CandidateIndex(tmp_path / "index.usearch", 128)
    assert reloaded.load()
    query = corpus.query(0, 30)
    np.testing.assert_array_equal(
        reloaded.pooled_scores(query, list(range(1, 31))), index.pooled_scores(query, list(range(1, 31)))
    )
    assert reloaded.survey(query, 30) == index.survey(query, 30)
    (tmp_path / "index.usearch").write_bytes((tmp_path / "index.usearch").read_bytes()[:1000])  # truncated
    assert not CandidateIndex(tmp_path / "index.usearch", 128).load()
