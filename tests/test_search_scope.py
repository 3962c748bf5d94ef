"""Searching within some documents or a folder: the core (both stages and the exact path, local
and Qdrant), the ranking's first stage when the scope is a small part of the library, and the
CLI's ``search --in``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from conftest import SAMPLES, corpus_or_skip
from stand_in_index import OrderedStandInIndex, UnscopedStandInIndex

from docretriever.cli import main
from docretriever.errors import InvalidInputError
from docretriever.library import open_library
from docretriever.library.qdrant import QdrantLibrary
from docretriever.library.scope import resolve_scope
from docretriever.search import candidates, ranking

FILES = {
    "a": ["015-arabic/habibi-rotated.pdf", "022-pdfkit/pdfkit.pdf"],
    "b": ["004-pdflatex-4-pages/pdflatex-4-pages.pdf", "026-latex-multicolumn/multicolumn.pdf"],
}
QUERY = "a page of text"


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    """docs/a and docs/b, two sample PDFs each."""
    root = tmp_path / "docs"
    for folder, files in FILES.items():
        (root / folder).mkdir(parents=True)
        for relative in files:
            shutil.copy(corpus_or_skip(SAMPLES) / relative, root / folder)
    return root


@pytest.fixture()
def library(tmp_path: Path, docs: Path, tiny_embedder):
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    library.add([docs])
    yield library
    library.close()


def _doc_ids(library, folder: Path) -> set[str]:
    return {document.doc_id for document in library.documents_under(str(folder))}


def test_a_search_within_documents_finds_only_their_pages_with_unchanged_scores(library, docs: Path) -> None:
    everything = library.search(QUERY, k=50, exact=True)
    chosen = _doc_ids(library, docs / "b")
    assert len(chosen) == 2
    expected = [(h.doc_id, h.page, h.score) for h in everything if h.doc_id in chosen]
    for exact in (True, False):
        hits = library.search(QUERY, k=50, exact=exact, within=chosen)
        assert [(h.doc_id, h.page) for h in hits] == [(d, p) for d, p, _ in expected]
        np.testing.assert_allclose([h.score for h in hits], [s for _, _, s in expected], rtol=1e-6)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    # A whole SHA-256, or a prefix of one, names the document as its doc id does.
    one = next(iter(chosen))
    sha256 = next(d.sha256 for d in library.documents() if d.doc_id == one)
    for reference in (sha256, one[:6].upper()):
        assert {h.doc_id for h in library.search(QUERY, k=50, within=[reference])} == {one}
    # Nothing chosen, or nothing that names a document: nothing found, not everything.
    assert library.search(QUERY, k=5, within=[]) == []
    assert library.search(QUERY, k=5, within=["ffffffffffff", "ab"]) == []


def test_the_fast_path_stays_within_the_documents(library, docs: Path, monkeypatch) -> None:
    """With every stage forced on (a codebook, a survey smaller than the library), a search
    within two documents returns their best pages, as the exact search within them does."""
    monkeypatch.setattr(candidates, "CODEBOOK_MIN_PAGES", 4)
    library.candidates.clear()
    for page in library.indexed_pages().values():
        library.candidates.add_page(page.id, library.page_cells(page), page.grid)
    assert library.candidates.codebook_size > 0
    monkeypatch.setattr(ranking, "EXACT_LIBRARY_PAGES", 0)
    monkeypatch.setattr(ranking, "RERANK_PAGES", 3)
    monkeypatch.setattr(ranking, "RERANK_PER_HIT", 1)
    monkeypatch.setattr(ranking, "SURVEY_PAGES", 2)
    monkeypatch.setattr(ranking, "SURVEY_PER_RERANK", 1)
    chosen = _doc_ids(library, docs / "a")
    exact = library.search(QUERY, k=2, exact=True, within=chosen)
    fast = library.search(QUERY, k=2, within=chosen)
    assert len(fast) == 2 and {h.doc_id for h in fast} <= chosen
    assert [(h.doc_id, h.page) for h in fast] == [(h.doc_id, h.page) for h in exact]


def test_the_first_stage_ranks_only_the_pages_in_scope() -> None:
    """Within pages 0-9 and 500-999, the best (the highest ids) lie past the first 400 pages
    the first stage would hand on for the whole library: it must survey the scope's own pages.
    The negative control, a first stage that ignores the scope, returns pages 0-9 among them."""
    within = set(range(10)) | set(range(500, 1000))

    def rows_of(page_id: int) -> np.ndarray:
        return np.full((1, 4), page_id / 1000, dtype=np.float32)

    query = np.ones((1, 4), dtype=np.float32)
    ranked = ranking.two_stage_top_k(query, within, OrderedStandInIndex(1000), rows_of, 10)  # type: ignore[arg-type]
    assert len(ranked) == 10 and all(page_id >= 500 for page_id, _ in ranked)
    unscoped = ranking.two_stage_top_k(query, within, UnscopedStandInIndex(1000), rows_of, 10)  # type: ignore[arg-type]
    assert any(page_id < 500 for page_id, _ in unscoped)


def test_the_codebook_survey_returns_only_pages_in_scope(monkeypatch) -> None:
    """A real candidate index, trained: the scoped survey hands on ``count`` pages of the scope
    (not fewer because the rest of the library scored higher), the same ones, in the same order,
    as the unscoped survey of every page filtered to the scope."""
    monkeypatch.setattr(candidates, "CODEBOOK_MIN_PAGES", 50)
    rng = np.random.default_rng(3)
    index = candidates.CandidateIndex(Path("/nonexistent/index"), 16)
    for page_id in range(300):
        cells = rng.standard_normal((24, 16)).astype(np.float32)
        index.add_page(page_id, cells / np.linalg.norm(cells, axis=1, keepdims=True), (4, 6))
    assert index.codebook_size > 0
    query = rng.standard_normal((5, 16)).astype(np.float32)
    scope = set(range(0, 300, 7))
    everything = index.survey(query, 300)
    assert index.survey(query, 20, only=scope) == [p for p in everything if p in scope][:20]
    assert len(index.survey(query, 1000, only=scope)) == len(scope)
    assert index.survey(query, 10, only=set()) == []


def test_qdrant_searches_within_documents(docs: Path, tiny_embedder) -> None:
    library = QdrantLibrary("qdrant+local://:memory:/pages", embedder=tiny_embedder)
    library.add([docs])
    chosen = _doc_ids(library, docs / "a")
    everything = library.search(QUERY, k=50, exact=True)
    for exact in (True, False):
        hits = library.search(QUERY, k=50, exact=exact, within=chosen)
        assert [(h.doc_id, h.page) for h in hits] == [
            (h.doc_id, h.page) for h in everything if h.doc_id in chosen
        ]
    assert library.search(QUERY, k=5, within=["ffffffffffff"]) == []
    library.close()


def test_scope_names_are_files_folders_and_doc_ids(library, docs: Path) -> None:
    in_a = _doc_ids(library, docs / "a")
    pdfkit = str(docs / "a" / "pdfkit.pdf")
    pdfkit_id = library.find_document(pdfkit).doc_id
    multicolumn_id = library.find_document(str(docs / "b" / "multicolumn.pdf")).doc_id
    assert [d.doc_id for d in resolve_scope(library, [pdfkit])] == [pdfkit_id]
    assert {d.doc_id for d in resolve_scope(library, [str(docs / "a"), pdfkit, multicolumn_id])} == (
        in_a | {multicolumn_id}
    )
    # A folder of the library that is not on disk now (an unplugged drive) still names its documents.
    shutil.rmtree(docs / "a")
    assert {d.doc_id for d in resolve_scope(library, [str(docs / "a")])} == in_a
    (docs / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="No document in the library is in"):
        resolve_scope(library, [str(docs / "empty")])
    with pytest.raises(InvalidInputError):
        resolve_scope(library, ["/nowhere/at/all.pdf"])


def test_the_cli_searches_in_files_folders_and_doc_ids(
    tmp_path: Path, docs: Path, tiny_model_dir: Path, capsys
) -> None:
    common = ["--library", str(tmp_path / "cli-lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*common, "add", str(docs)]) == 0
    capsys.readouterr()
    assert main([*common, "search", QUERY, "-k", "50", "--in", str(docs / "b")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all("pdflatex-4-pages.pdf" in line or "multicolumn.pdf" in line for line in lines)
    pages = sum(pymupdf.open(path).page_count for path in (docs / "b").iterdir())
    assert len(lines) == pages  # every page of the two documents, and no other
    assert (
        main([*common, "search", QUERY, "--in", str(docs / "a" / "pdfkit.pdf"), "--in", str(docs / "b")]) == 0
    )
    names = {line.split()[2] for line in capsys.readouterr().out.splitlines()}
    assert names == {"pdfkit.pdf", "pdflatex-4-pages.pdf", "multicolumn.pdf"}
    assert main([*common, "search", QUERY, "--in", str(tmp_path / "elsewhere.pdf")]) != 0
    assert "elsewhere.pdf" in capsys.readouterr().err
