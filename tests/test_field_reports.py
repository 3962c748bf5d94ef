"""Smaller things from field reports (issue 15, part 5): a page tree that promises pages it does
not hold, the note of an extreme-aspect page, and the limits on a page's embedding size."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from conftest import CountingEmbedder

from docretriever.cli import main
from docretriever.documents.pdf import open_pdf, read_page_infos
from docretriever.documents.render_pool import RenderPool
from docretriever.embedding import ModelSpec, model_geometry
from docretriever.errors import InvalidInputError
from docretriever.library import open_library
from docretriever.library.qdrant import QdrantLibrary, schema
from docretriever.storage.catalog import FAILED, INDEXED

MIN_VISUAL_TOKENS, MAX_VISUAL_TOKENS = model_geometry().min_cells, model_geometry().max_cells


def _pdf_with_phantom_pages(path: Path, real: int, declared: int) -> Path:
    """A PDF of ``real`` pages whose root page tree's /Count says ``declared``."""
    document = pymupdf.open()
    for number in range(1, real + 1):
        page = document.new_page()
        page.insert_text((72, 72), f"Page {number} of a report on tidal power", fontsize=14)
    pages_xref = int(document.xref_get_key(document.pdf_catalog(), "Pages")[1].split()[0])
    document.xref_set_key(pages_xref, "Count", str(declared))
    path.write_bytes(document.tobytes())
    document.close()
    return path


def _pdf_with_a_strip_page(path: Path) -> Path:
    """Two ordinary pages and, between them, a 2000 x 5 pt strip (aspect ratio 400:1)."""
    document = pymupdf.open()
    document.new_page().insert_text((72, 72), "An ordinary first page", fontsize=14)
    document.new_page(width=2000, height=5)
    document.new_page().insert_text((72, 72), "An ordinary last page", fontsize=14)
    document.save(path)
    document.close()
    return path


def test_mupdf_counts_the_declared_pages_until_it_looks_for_them(tmp_path: Path) -> None:
    # What MuPDF does with such a file: the lie stands until a missing page is loaded.
    path = _pdf_with_phantom_pages(tmp_path / "promises.pdf", real=2, declared=5)
    with pymupdf.open(path) as document:
        assert document.page_count == 5
        with pytest.raises(Exception, match="page"):  # MuPDF's own error, or a ValueError
            document.load_page(2)
        assert document.page_count == 2


def test_phantom_pages_are_left_out_and_the_note_says_so(tmp_path: Path) -> None:
    path = _pdf_with_phantom_pages(tmp_path / "promises.pdf", real=2, declared=5)
    with open_pdf(path) as document:
        infos = read_page_infos(document)
    assert [info.index for info in infos] == [0, 1]
    assert infos.note is not None and "declares 5 pages but holds only 2" in infos.note
    assert "pages 3-5" in infos.note
    # The note crosses the render worker's pipe.
    pool = RenderPool(workers=1)
    try:
        inspected = pool.inspect(path)
    finally:
        pool.close()
    assert list(inspected) == list(infos) and inspected.note == infos.note
    # An honest file has no note.
    honest = tmp_path / "honest.pdf"
    _pdf_with_phantom_pages(honest, real=2, declared=2)
    with open_pdf(honest) as document:
        assert read_page_infos(document).note is None


def test_a_library_indexes_only_the_real_pages_and_notes_the_missing_ones(
    tmp_path: Path, tiny_embedder
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _pdf_with_phantom_pages(docs / "promises.pdf", real=2, declared=5)
    counting = CountingEmbedder(tiny_embedder)
    with open_library(tmp_path / "lib", embedder=counting) as library:
        report = library.add([docs])
        (outcome,) = report.outcomes
        assert outcome.status == INDEXED and outcome.pages == 2
        assert report.pages_embedded == 2 and counting.pages_embedded == 2
        assert outcome.error is not None and "declares 5 pages but holds only 2" in outcome.error
        (document,) = library.documents()
        assert document.page_count == 2 and document.error == outcome.error


def test_list_shows_the_missing_pages_note(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _pdf_with_phantom_pages(docs / "promises.pdf", real=1, declared=3)
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*common, "add", str(docs)]) == 0
    capsys.readouterr()
    assert main([*common, "list"]) == 0
    out = capsys.readouterr().out
    assert "declares 3 pages but holds only 1" in out.replace("\n", " ")


def test_an_extreme_aspect_page_fails_alone_and_the_note_says_why(tmp_path: Path, tiny_embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _pdf_with_a_strip_page(docs / "strip.pdf")
    with open_library(tmp_path / "lib", embedder=tiny_embedder) as library:
        (outcome,) = library.add([docs]).outcomes
    assert outcome.status == INDEXED and outcome.pages == 2
    assert outcome.error is not None
    assert "1 of 3 pages could not be indexed" in outcome.error and "page 2:" in outcome.error
    assert "aspect ratio is 400:1" in outcome.error and "limit of 200:1" in outcome.error
    assert "could not be rendered" not in outcome.error


def test_qdrant_notes_the_aspect_and_the_missing_pages(tmp_path: Path, tiny_embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _pdf_with_a_strip_page(docs / "strip.pdf")
    _pdf_with_phantom_pages(docs / "promises.pdf", real=2, declared=4)
    remote = QdrantLibrary("qdrant+local://:memory:/pages", embedder=tiny_embedder)
    outcomes = {Path(outcome.path).name: outcome for outcome in remote.add([docs]).outcomes}
    strip, promises = outcomes["strip.pdf"], outcomes["promises.pdf"]
    assert strip.status == INDEXED and strip.pages == 2
    assert strip.error is not None and "aspect ratio is 400:1" in strip.error and "page 2:" in strip.error
    assert promises.status == INDEXED and promises.pages == 2
    assert promises.error is not None and "declares 4 pages but holds only 2" in promises.error
    assert remote.store.count_pages() == 4


def test_qdrant_refuses_an_oversized_multivector_before_uploading(
    tmp_path: Path, tiny_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert schema.multivector_too_large(8192, 128) is None
    reason = schema.multivector_too_large(8193, 128)
    assert reason is not None and "1,048,576" in reason and "8,192 rows" in reason
    docs = tmp_path / "docs"
    docs.mkdir()
    _pdf_with_phantom_pages(docs / "report.pdf", real=2, declared=2)
    remote = QdrantLibrary("qdrant+local://:memory:/pages", embedder=tiny_embedder)
    uploads: list[int] = []
    upsert = remote.store.client.upsert

    def recording(collection, points, **kwargs):
        if collection == remote.store.pages:
            uploads.append(len(points))
        return upsert(collection, points=points, **kwargs)

    monkeypatch.setattr(remote.store.client, "upsert", recording)
    # As if the pages were larger than a server takes: the tiny model's pages are a few rows.
    monkeypatch.setattr(schema, "MAX_MULTIVECTOR_FLOATS", remote.dim * 4)
    (outcome,) = remote.add([docs]).outcomes
    assert outcome.status == FAILED
    assert outcome.error is not None and "too large for Qdrant" in outcome.error
    assert "--visual-tokens" in outcome.error
    assert remote.store.count_pages() == 0 and sum(uploads) == 0


def test_the_visual_token_budget_is_bounded_by_what_the_model_takes(tmp_path: Path, capsys) -> None:
    assert (MIN_VISUAL_TOKENS, MAX_VISUAL_TOKENS) == (4, 16384)
    ModelSpec(visual_tokens=MIN_VISUAL_TOKENS)
    ModelSpec(visual_tokens=MAX_VISUAL_TOKENS)
    for bad in (MIN_VISUAL_TOKENS - 1, MAX_VISUAL_TOKENS + 1, 10**9):
        with pytest.raises(InvalidInputError, match="at least 4 and at most 16,384"):
            ModelSpec(visual_tokens=bad)
    code = main(["--library", str(tmp_path / "lib"), "--visual-tokens", "100000", "list"])
    assert code != 0
    assert "at least 4 and at most 16,384" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "4 to 16,384" in " ".join(capsys.readouterr().out.split())
