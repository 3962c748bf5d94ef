"""Pages like a page, without a model: the query built from a page's stored rows (cells only),
the CLI's DOC:PAGE, leaving the page itself out, and the fast path on synthetic pages (its
first stages on the page's centroids, its top results those of exact search)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import pytest

from docretriever.cli.like import parse_like
from docretriever.errors import InvalidInputError, LibraryError
from docretriever.library.like import cell_query_rows
from docretriever.search import ranking
from docretriever.search.candidates import CandidateIndex
from docretriever.search.pooling import PAGE_CENTROIDS
from docretriever.testing.synthetic import GRID, synthetic_library
from docretriever_ui.like_search import like_summary, like_title

N_CELLS, PROMPT_ROWS, DIM = 12, 5, 16


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _holds_any(query: np.ndarray, rows: np.ndarray) -> bool:
    """Whether any of ``rows`` is one of the query's rows."""
    return bool((np.abs(query @ rows.T - 1.0) < 1e-4).any())


def test_the_query_is_the_cells_each_once_never_a_prompt_row() -> None:
    rng = np.random.default_rng(0)
    stored = _unit(rng.normal(size=(N_CELLS + PROMPT_ROWS, DIM))).astype(np.float16)
    prompt = stored[N_CELLS:].astype(np.float32)
    query = cell_query_rows(stored, N_CELLS, None)
    assert query.dtype == np.float32 and query.shape == (N_CELLS, DIM)
    np.testing.assert_array_equal(query, stored[:N_CELLS].astype(np.float32))
    assert not _holds_any(query, prompt)
    # Negative control: every stored row as the query (the naive page-as-query) holds them, and
    # the check above catches it.
    assert _holds_any(stored.astype(np.float32), prompt)

    # A token-pooled page: 4 pooled rows stand for the 12 cells, then the prompt rows; each
    # pooled row counts once, however many cells share it.
    pooled = np.concatenate([stored[:4], stored[N_CELLS:]])
    cell_rows = np.array([0, 0, 1, 1, 1, 2, 3, 3, 0, 2, 2, 1], dtype=np.int16)
    query = cell_query_rows(pooled, N_CELLS, cell_rows)
    np.testing.assert_array_equal(query, pooled[:4].astype(np.float32))
    assert not _holds_any(query, prompt)
    with pytest.raises(LibraryError, match="no stored image cells"):
        cell_query_rows(stored, 0, None)


def test_doc_and_page_are_split_at_the_last_colon() -> None:
    assert parse_like("3f2a9c01:4") == ("3f2a9c01", 4)
    assert parse_like(" /papers/a:b.pdf:12 ") == ("/papers/a:b.pdf", 12)
    assert parse_like(r"C:\papers\report.pdf:2") == (r"C:\papers\report.pdf", 2)
    for bad in ("3f2a9c01", ":4", "report.pdf:four", "report.pdf:"):
        with pytest.raises(InvalidInputError, match="DOC:PAGE"):
            parse_like(bad)
    with pytest.raises(InvalidInputError, match=r"^:like takes"):
        parse_like("nope", ":like")


def test_the_header_names_the_page() -> None:
    title = like_title("/papers/report.pdf", 95, "92", 117)
    assert title == "report.pdf, page 92 (95/117)"
    assert like_title("/papers/report.pdf", 4) == "report.pdf, page 4"
    assert like_summary(40, True, "report.pdf, page 4") == "Best 40 pages like report.pdf, page 4"
    assert like_summary(1, False, "a.pdf, page 1") == "1 page like a.pdf, page 1"
    assert "No other" in like_summary(0, False, "a.pdf, page 1")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory):
    """600 synthetic pages (30 documents of 20): past the codebook's and the survey's sizes, so
    that search_like takes the fast path's three stages."""
    library, _ = synthetic_library(tmp_path_factory.mktemp("like") / "library", 600, seed=11)
    yield library
    library.close()


def test_the_fast_path_surveys_with_centroids_and_agrees_with_exact_search(synthetic, monkeypatch) -> None:
    library = synthetic
    assert library.candidates.codebook_size > 0 and len(library.indexed_pages()) > ranking.SURVEY_PAGES
    surveyed: list[int] = []
    survey = CandidateIndex.survey

    def recording(
        index: CandidateIndex,
        query: np.ndarray,
        count: int,
        probes: int = 8,
        only: Collection[int] | None = None,
    ) -> list[int]:
        surveyed.append(len(query))
        return survey(index, query, count, probes, only)

    monkeypatch.setattr(CandidateIndex, "survey", recording)
    documents = library.documents()
    agreed, compared = 0, 0
    for document in documents[::6]:
        for page in (1, 11):
            fast = library.search_like(document.doc_id, page, k=10)
            exact = library.search_like(document.doc_id, page, k=10, exact=True)
            assert (document.doc_id, page) not in {(h.doc_id, h.page) for h in fast + exact}
            assert [h.rank for h in fast] == list(range(1, 11))
            assert fast[0].doc_id == exact[0].doc_id and fast[0].page == exact[0].page
            assert fast[0].score == pytest.approx(exact[0].score)
            agreed += len({(h.doc_id, h.page) for h in fast} & {(h.doc_id, h.page) for h in exact})
            compared += 10
    # Stage one and two saw the page's ~96 centroids, not its 768 cells, and still found the
    # exact top 10 (nearly) every time.
    assert surveyed and set(surveyed) == {PAGE_CENTROIDS}
    assert agreed / compared >= 0.95, agreed / compared


def test_the_rerank_scores_every_cell_of_the_page(synthetic) -> None:
    library = synthetic
    document = library.documents()[3]
    like = library.page_query(document.doc_id, 5)
    n_x, n_y = GRID
    assert like.query.vectors.shape == (n_x * n_y, 128) and like.query.coarse is not None
    assert len(like.query.coarse) == PAGE_CENTROIDS
    assert like.title == f"{Path(document.paths[0]).name}, page 5"
    hits = library.search_like(document.doc_id, 5, k=3, exact=True)
    # The score is exact MaxSim of the cells against each hit's stored rows.
    record = next(p for p in library.indexed_pages().values() if p.index == hits[0].page - 1
                  and library.catalog.document(p.document_id).doc_id == hits[0].doc_id)  # fmt: skip
    rows = library.page_rows(record).astype(np.float32)
    expected = float((like.query.vectors @ rows.T).max(axis=1).sum())
    assert hits[0].score == pytest.approx(expected, rel=1e-5)
    # A heat map over every query row, none of them a word: defined, in [0, 1], peaking at 1.
    heat = hits[0].heat()
    assert heat.shape == (n_y, n_x) and heat.max() == pytest.approx(1.0) and heat.min() >= 0
    assert hits[0].regions()
