"""Add, search, reopen, remove: the library end to end with the tiny model."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from colpali_engine.utils.processing_utils import BaseVisualRetrieverProcessor
from conftest import SAMPLES, CountingEmbedder, corpus_or_skip

from docretriever.embedding import ModelSpec, load_embedder
from docretriever.errors import Cancelled, InvalidInputError, LibraryError, ModelMismatchError
from docretriever.library import open_library
from docretriever.progress import CancelToken, Progress
from docretriever.search import candidates, ranking
from docretriever.search.candidates import CandidateIndex
from docretriever.testing.tiny_model import build_tiny_model

FILES = [
    "004-pdflatex-4-pages/pdflatex-4-pages.pdf",
    "005-libreoffice-writer-password/libreoffice-writer-password.pdf",
    "015-arabic/habibi-rotated.pdf",
    "022-pdfkit/pdfkit.pdf",
    "026-latex-multicolumn/multicolumn.pdf",
]


@pytest.fixture()
def small_codebook(monkeypatch: pytest.MonkeyPatch) -> None:
    """A codebook trained once a library holds more than 4 pages (the fixture's 12 do)."""
    monkeypatch.setattr(candidates, "CODEBOOK_MIN_PAGES", 4)


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs with spaces, commas"
    folder.mkdir()
    for relative in FILES:
        shutil.copy(corpus_or_skip(SAMPLES) / relative, folder / Path(relative).name)
    return folder


def test_add_search_and_scores_equal_colpali_engine(tmp_path: Path, docs: Path, tiny_embedder) -> None:
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    report = library.add([docs])
    assert report.count("indexed") == 4 and report.count("failed") == 1
    failed = [d for d in library.documents() if d.status == "failed"]
    assert len(failed) == 1 and "password" in (failed[0].error or "")
    assert sum(d.page_count or 0 for d in library.documents() if d.status == "indexed") == 12

    hits = library.search("a multicolumn page", k=12, exact=True)
    assert [h.rank for h in hits] == list(range(1, 13))
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    # The reference: colpali-engine's scoring on the stored (float16) page embeddings.
    query = tiny_embedder.embed_queries(["a multicolumn page"])[0].vectors
    stored = [library.page_rows(p) for p in library.catalog.pages(status="indexed")]
    reference = BaseVisualRetrieverProcessor.score_multi_vector(
        [torch.from_numpy(query)], [torch.from_numpy(s.astype(np.float32)) for s in stored], device="cpu"
    )[0].numpy()
    np.testing.assert_allclose(
        sorted((h.score for h in hits), reverse=True), sorted(reference, reverse=True)[:12], rtol=1e-5
    )
    for hit in hits:
        assert hit.similarity.shape[1:] == (hit.grid[1], hit.grid[0])
        for region in hit.regions():
            assert 0 <= region.x0 < region.x1 <= hit.page_size[0] + 1e-6
            assert 0 <= region.y0 < region.y1 <= hit.page_size[1] + 1e-6


def test_the_codebook_stage_feeds_the_exact_rerank(
    tmp_path: Path,
    docs: Path,
    tiny_embedder,
    monkeypatch: pytest.MonkeyPatch,
    small_codebook: None,
) -> None:
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    library.add([docs])
    exact = library.search("topology", k=3, exact=True)
    # Force all three stages on 12 pages (survey 5, rerank 4), and prove each one runs.
    monkeypatch.setattr(ranking, "EXACT_LIBRARY_PAGES", 0)
    monkeypatch.setattr(ranking, "RERANK_PAGES", 4)
    monkeypatch.setattr(ranking, "RERANK_PER_HIT", 1)
    monkeypatch.setattr(ranking, "SURVEY_PAGES", 5)
    monkeypatch.setattr(ranking, "SURVEY_PER_RERANK", 1)
    assert library.candidates.codebook_size > 0  # trained past CODEBOOK_MIN_PAGES (see fixture)
    calls: list[str] = []
    survey, pooled = CandidateIndex.survey, CandidateIndex.pooled_scores

    def spy_survey(self, query, count, **options):
        calls.append("stage one")
        return survey(self, query, count, **options)

    def spy_pooled(self, query, page_ids):
        calls.append(f"stage two on {len(page_ids)}")
        return pooled(self, query, page_ids)

    monkeypatch.setattr(CandidateIndex, "survey", spy_survey)
    monkeypatch.setattr(CandidateIndex, "pooled_scores", spy_pooled)
    fast = library.search("topology", k=3)
    assert calls == ["stage one", "stage two on 5"] and len(fast) == 3
    exact_by_page = {(h.doc_id, h.page): h.score for h in library.search("topology", k=12, exact=True)}
    for hit in fast:  # every reranked score is the exact MaxSim of that page
        assert hit.score == pytest.approx(exact_by_page[(hit.doc_id, hit.page)], rel=1e-6)
    assert fast[0].score <= exact[0].score + 1e-6


@pytest.mark.parametrize("damage", ["truncated", "zero bytes", "garbage"])
def test_a_damaged_index_file_is_rebuilt_and_gives_the_same_top_10(
    tmp_path: Path,
    docs: Path,
    tiny_embedder,
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
    small_codebook: None,
) -> None:
    monkeypatch.setattr(ranking, "EXACT_LIBRARY_PAGES", 0)  # 12 pages: make the index matter
    monkeypatch.setattr(ranking, "RERANK_PAGES", 10)
    monkeypatch.setattr(ranking, "RERANK_PER_HIT", 1)
    # Stage two ranks all 12 pages: stage one depends on the codebook, which the rebuild trains
    # on the pages in another order (the catalog's, not the ingest's).
    monkeypatch.setattr(ranking, "SURVEY_PAGES", 12)
    monkeypatch.setattr(ranking, "SURVEY_PER_RERANK", 1)
    with open_library(tmp_path / "lib", embedder=tiny_embedder) as library:
        library.add([docs])
        before = [(h.doc_id, h.page, h.score) for h in library.search("forms", k=10)]
    path = tmp_path / "lib" / "index.usearch"
    data = path.read_bytes()
    damaged = {"truncated": data[: len(data) // 2], "zero bytes": b"", "garbage": b"garbage" * 99}
    path.write_bytes(damaged[damage])
    with open_library(tmp_path / "lib", embedder=tiny_embedder) as library:
        after = [(h.doc_id, h.page, h.score) for h in library.search("forms", k=10)]
        assert len(library.candidates.page_ids()) == 12
    assert [hit[:2] for hit in after] == [hit[:2] for hit in before]
    assert [hit[2] for hit in after] == pytest.approx([hit[2] for hit in before], rel=1e-6)
    rebuilt = CandidateIndex(path, 128)
    assert rebuilt.load() and rebuilt.codebook_size > 0  # rebuilt and saved whole


def test_a_library_from_another_model_is_refused(tmp_path: Path, docs: Path, tiny_embedder) -> None:
    with open_library(tmp_path / "lib", embedder=tiny_embedder) as library:
        library.add([docs / "pdfkit.pdf"])
    other = load_embedder(ModelSpec(str(build_tiny_model(tmp_path / "other", seed=1)), device="cpu"))
    with pytest.raises(ModelMismatchError, match="built with the model"):
        open_library(tmp_path / "lib", embedder=other)


def test_same_bytes_under_two_names_is_one_document(
    tmp_path: Path, docs: Path, counting_embedder: CountingEmbedder
) -> None:
    shutil.copy(docs / "pdfkit.pdf", docs / "pdfkit copy.pdf")
    library = open_library(tmp_path / "lib", embedder=counting_embedder)
    totals = []
    library.add(
        [docs / "pdfkit.pdf", docs / "pdfkit copy.pdf"],
        progress=lambda p: totals.append(p.total) if p.stage == "Indexing" else None,
    )
    documents = library.documents()
    assert set(totals) == {documents[0].page_count}  # the shared pages are counted once
    assert len(documents) == 1 and len(documents[0].paths) == 2
    embedded = counting_embedder.pages_embedded
    again = library.add([docs / "pdfkit.pdf"])
    assert again.count("skipped") == 1 and counting_embedder.pages_embedded == embedded


def test_cancelled_add_keeps_its_pages_and_resumes_without_reembedding(
    tmp_path: Path, counting_embedder: CountingEmbedder
) -> None:
    source = corpus_or_skip(SAMPLES) / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"
    library = open_library(tmp_path / "lib", embedder=counting_embedder)
    cancel = CancelToken()

    def stop_after_some(progress: Progress) -> None:
        if progress.stage == "Indexing" and progress.done >= 8:
            cancel.cancel()

    with pytest.raises(Cancelled):
        library.add([source], progress=stop_after_some, cancel=cancel)
    done_before = len(library.catalog.pages(status="indexed"))
    assert 8 <= done_before < 117
    assert library.documents()[0].status == "pending"
    assert len(library.search("Simplizialkomplex", k=3)) == 3  # what is done is searchable
    library.add([source])
    assert library.documents()[0].status == "indexed"
    assert len(library.catalog.pages(status="indexed")) == 117
    assert counting_embedder.pages_embedded == 117  # no page embedded twice


def test_remove_by_doc_id_prefix(tmp_path: Path, docs: Path, tiny_embedder) -> None:
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    library.add([docs])
    target = next(d for d in library.documents() if d.paths[0].endswith("multicolumn.pdf"))
    library.remove(target.doc_id[:8])
    assert target.doc_id not in {d.doc_id for d in library.documents()}
    assert target.doc_id not in {h.doc_id for h in library.search("text", k=20)}
    with pytest.raises(InvalidInputError, match="No document"):
        library.remove(target.doc_id)


def test_injected_best_cell_lands_on_that_part_of_a_rotated_page(
    tmp_path: Path, docs: Path, tiny_embedder
) -> None:
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    library.add([docs / "habibi-rotated.pdf"])
    page = library.catalog.pages(status="indexed")[0]
    n_x, n_y = page.grid
    assert n_x > n_y and page.rotation == 90  # landscape as displayed
    cells = library.page_cells(page).astype(np.float32)
    # The most distinctive cell (blank-margin cells all look alike and would match each other).
    distinctiveness = (cells @ cells.T).max(axis=1, where=~np.eye(len(cells), dtype=bool), initial=-1.0)
    row = int(np.argmin(distinctiveness))
    target = (row % n_x, row // n_x)
    query = tiny_embedder.embed_queries(["x"])[0]
    injected = type(query)(query.text, cells[[row, row]], ("a", "b"), np.ones(2, bool))
    region = library._hit(1, 0.0, page, injected).regions()[0]
    cell_w, cell_h = page.width_pt / n_x, page.height_pt / n_y
    assert ((region.x0 + region.x1) / 2, (region.y0 + region.y1) / 2) == pytest.approx(
        ((target[0] + 0.5) * cell_w, (target[1] + 0.5) * cell_h), abs=0.51 * max(cell_w, cell_h)
    )


def test_empty_query_and_empty_library(tmp_path: Path, tiny_embedder) -> None:
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    assert library.search("anything") == []
    with pytest.raises(InvalidInputError):
        library.search("   ")


def test_reindex_embeds_the_file_again(
    tmp_path: Path, docs: Path, counting_embedder: CountingEmbedder
) -> None:
    library = open_library(tmp_path / "lib", embedder=counting_embedder)
    library.add([docs / "pdfkit.pdf", docs / "multicolumn.pdf"])
    before = counting_embedder.pages_embedded
    target = next(d for d in library.documents() if d.paths[0].endswith("multicolumn.pdf"))
    report = library.reindex(target.doc_id)
    assert report.count("indexed") == 1
    assert counting_embedder.pages_embedded == before + (target.page_count or 0)
    assert len(library.catalog.pages(status="indexed")) == before
    (docs / "multicolumn.pdf").unlink()
    with pytest.raises(LibraryError, match="no longer at"):
        library.reindex(target.doc_id)


def test_query_words_group_their_tokens(tiny_embedder) -> None:
    query = tiny_embedder.embed_queries(["where is the topology map"])[0]
    words = query.words()
    assert [word for word, _ in words] == ["where", "is", "the", "topology", "map"]
    masks = np.stack([mask for _, mask in words])
    assert (masks.sum(axis=0) <= 1).all()  # no token in two words
    assert (masks.any(axis=0) == query.is_word).all()  # every typed token in one word


def test_two_stage_search_always_returns_k_hits(
    tmp_path: Path, docs: Path, tiny_embedder, monkeypatch: pytest.MonkeyPatch, small_codebook: None
) -> None:
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    library.add([docs])
    monkeypatch.setattr(ranking, "EXACT_LIBRARY_PAGES", 0)
    monkeypatch.setattr(ranking, "RERANK_PAGES", 2)
    monkeypatch.setattr(ranking, "RERANK_PER_HIT", 1)
    monkeypatch.setattr(candidates, "PROBED_CODES", 2)  # codes that few pages are filed under
    assert len(library.search("a", k=11)) == 11


def test_an_edited_file_replaces_its_old_version(tmp_path: Path, docs: Path, tiny_embedder) -> None:
    import pymupdf

    path = docs / "pdfkit.pdf"
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    library.add([path])
    old = library.documents()[0]
    with pymupdf.open(path) as pdf:
        pdf[0].insert_text((72, 72), "an edit")
        pdf.saveIncr()
    library.add([path])
    documents = library.documents()
    assert len(documents) == 1 and documents[0].doc_id != old.doc_id
    assert documents[0].paths == (str(path),)
    assert {h.doc_id for h in library.search("edit", k=5)} == {documents[0].doc_id}


def test_failed_pages_are_retried_on_the_next_add(
    tmp_path: Path, docs: Path, counting_embedder: CountingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docretriever.documents.render_pool import RenderPool
    from docretriever.errors import PageError

    real = RenderPool.render

    def fail_page_two(self, path, pages, sizes, password=None):  # a worker reports a page it cannot draw
        results = real(self, path, pages, sizes, password)
        pairs = zip(pages, results, strict=True)
        return [PageError("simulated") if info.index == 1 else result for info, result in pairs]

    monkeypatch.setattr(RenderPool, "render", fail_page_two)
    library = open_library(tmp_path / "lib", embedder=counting_embedder)
    report = library.add([docs / "multicolumn.pdf"])
    assert report.pages_embedded == 2  # of 3: only stored pages count
    assert "1 of 3 pages" in (library.documents()[0].error or "")
    monkeypatch.undo()
    again = library.add([docs / "multicolumn.pdf"])
    assert again.pages_embedded == 1 and counting_embedder.pages_embedded == 3
    assert library.documents()[0].error is None


def test_a_bad_file_name_fails_alone(tmp_path: Path, docs: Path, tiny_embedder) -> None:
    import os

    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "good.pdf").write_bytes((docs / "pdfkit.pdf").read_bytes())
    bad = os.path.join(os.fsencode(folder), b"caf\xe9.pdf")
    with open(bad, "wb") as handle:
        handle.write((docs / "multicolumn.pdf").read_bytes())
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    report = library.add([folder])
    statuses = sorted(o.status for o in report.outcomes)
    assert statuses == ["failed", "indexed"]
    assert "not valid text" in next(o.error for o in report.outcomes if o.status == "failed")
    assert [d.status for d in library.documents()] == ["indexed"]


def test_references_by_relative_path_and_missing_libraries(tmp_path: Path, docs: Path, tiny_embedder) -> None:
    import os

    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    library.add([docs / "pdfkit.pdf"])
    relative = os.path.relpath(docs / "pdfkit.pdf", start=Path.cwd())
    removal = library.remove(os.path.join(os.path.dirname(relative), "..", docs.name, "pdfkit.pdf"))
    assert removal.path is None and removal.document.paths  # its only path: the document left
    with pytest.raises(LibraryError, match="no library"):
        open_library(tmp_path / "typo", embedder=tiny_embedder, create=False)
    assert not (tmp_path / "typo").exists()


def test_a_cancelled_reindex_keeps_the_document(tmp_path: Path, docs: Path, tiny_embedder) -> None:
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    library.add([docs / "multicolumn.pdf"])
    target = library.documents()[0]
    cancel = CancelToken()

    def stop_while_reading(progress: Progress) -> None:
        if progress.stage == "Reading files":
            cancel.cancel()

    with pytest.raises(Cancelled):
        library.reindex(target.doc_id, progress=stop_while_reading, cancel=cancel)
    document = library.documents()[0]
    assert document.doc_id == target.doc_id and document.status == "pending" and document.paths
    library.add([docs / "multicolumn.pdf"])  # an add finishes it
    assert library.documents()[0].status == "indexed"
    assert len(library.catalog.pages(status="indexed")) == 3


def test_another_process_adding_pages_is_seen_by_the_fast_path(
    tmp_path: Path, docs: Path, tiny_embedder
) -> None:
    first = open_library(tmp_path / "lib", embedder=tiny_embedder)
    first.add([docs / "pdfkit.pdf"])
    first.search("anything", k=1)  # loads the index in this "process"
    second = open_library(tmp_path / "lib", embedder=tiny_embedder)  # another process's view
    second.add([docs / "multicolumn.pdf"])
    assert first.candidates.page_ids() == set(first.indexed_pages()) and len(first.indexed_pages()) == 4
    second.remove(next(d.doc_id for d in second.documents() if d.paths[0].endswith("pdfkit.pdf")))
    assert first.candidates.page_ids() == set(first.indexed_pages()) and len(first.indexed_pages()) == 3
