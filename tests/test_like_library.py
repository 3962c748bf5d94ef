"""Pages like a page with the tiny model, end to end on both back ends and through the CLI: the
same page in another file ranks first, the page itself is never among its results, errors are
said in words, and both back ends agree."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES, corpus_or_skip

from docretriever.cli import main
from docretriever.documents.pdf import mupdf
from docretriever.errors import InvalidInputError, LibraryError
from docretriever.library.local import LocalLibrary
from docretriever.library.qdrant import QdrantLibrary

FILES = (
    "004-pdflatex-4-pages/pdflatex-4-pages.pdf",
    "022-pdfkit/pdfkit.pdf",
    "026-latex-multicolumn/multicolumn.pdf",
)
SOURCE, PAGE = "pdflatex-4-pages.pdf", 3  # its page 3 is also the only page of extract.pdf


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sample PDFs, and ``extract.pdf``: page 3 of the first alone, in a file of its own
    (other bytes, so another document: the same page rendered again)."""
    folder = tmp_path_factory.mktemp("like-docs")
    for relative in FILES:
        shutil.copy(corpus_or_skip(SAMPLES) / relative, folder)
    fitz = mupdf()
    with fitz.open(folder / SOURCE) as source, fitz.open() as extract:
        extract.insert_pdf(source, from_page=PAGE - 1, to_page=PAGE - 1)
        extract.save(folder / "extract.pdf")
    return folder


@pytest.fixture(scope="module")
def libraries(docs: Path, tiny_embedder, tmp_path_factory: pytest.TempPathFactory):
    local = LocalLibrary(tmp_path_factory.mktemp("like-local") / "library", embedder=tiny_embedder)
    remote = QdrantLibrary("qdrant+local://:memory:/like", embedder=tiny_embedder)
    for library in (local, remote):
        assert library.add([docs]).count("indexed") == 4
    yield {"local": local, "qdrant": remote}
    local.close()
    remote.close()


def _doc_id(library, name: str) -> str:
    return next(d.doc_id for d in library.documents() if Path(d.paths[0]).name == name)


def _top(hits) -> list[tuple[str, int]]:
    return [(hit.doc_id, hit.page) for hit in hits]


@pytest.mark.parametrize("backend", ["local", "qdrant"])
def test_the_same_page_in_another_file_ranks_first_and_the_page_itself_is_left_out(
    libraries, docs: Path, backend: str
) -> None:
    library = libraries[backend]
    source, extract = _doc_id(library, SOURCE), _doc_id(library, "extract.pdf")
    for exact in (False, True):
        hits = library.search_like(source, PAGE, k=5, exact=exact)
        assert len(hits) == 5 and [h.rank for h in hits] == [1, 2, 3, 4, 5]
        assert (source, PAGE) not in _top(hits)
        assert _top(hits)[0] == (extract, 1)
        # Rendered to the same pixels, it has the very rows the query is made of: every cell's
        # best match is itself (a score of one per cell), the most any page can score.
        assert hits[0].score == pytest.approx(hits[0].grid[0] * hits[0].grid[1], rel=1e-3)
        assert hits[0].score > hits[1].score
    # The other way round, and by path (the page is named by its file), within some documents.
    back = library.search_like(str(docs / "extract.pdf"), 1, k=3)
    assert _top(back)[0] == (source, PAGE) and (extract, 1) not in _top(back)
    within = library.search_like(source, PAGE, k=10, within=[source])
    assert {h.doc_id for h in within} == {source} and len(within) == 3
    # Highlights: the heat over every row of the page (it has no words).
    assert not hits[0].query.words() and hits[0].query.text == f"Pages like {SOURCE}, page {PAGE}"
    heat = hits[0].heat()
    assert heat.shape == hits[0].grid[::-1] and heat.max() == pytest.approx(1.0)
    assert hits[0].regions()


def test_both_back_ends_find_the_same_pages_with_the_same_scores(libraries) -> None:
    local, remote = libraries["local"], libraries["qdrant"]
    for name, page in ((SOURCE, 1), ("multicolumn.pdf", 2), ("pdfkit.pdf", 1)):
        expected = local.search_like(_doc_id(local, name), page, k=6, exact=True)
        for exact in (False, True):
            hits = remote.search_like(_doc_id(remote, name), page, k=6, exact=exact)
            np.testing.assert_allclose([h.score for h in hits], [h.score for h in expected], atol=5e-4)
            # The same pages in the same order, but for ties: extract.pdf's page and the page it
            # was taken from score alike, and either may come first, or take the last place.
            assert _untied(hits)[:-1] == _untied(expected)[:-1], (name, page, exact)
            for hit, reference in zip(hits, expected, strict=True):
                if (hit.doc_id, hit.page) == (reference.doc_id, reference.page):
                    np.testing.assert_allclose(hit.similarity, reference.similarity, atol=1e-4)


def _untied(hits) -> list[tuple[str, int] | float]:
    """Each hit's page, or its score (rounded) where another hit scores the same."""
    scores = [round(hit.score, 2) for hit in hits]
    pages = [(hit.doc_id, hit.page) for hit in hits]
    return [score if scores.count(score) > 1 else page for page, score in zip(pages, scores, strict=True)]


@pytest.mark.parametrize("backend", ["local", "qdrant"])
def test_what_cannot_be_compared_is_said_in_words(libraries, backend: str) -> None:
    library = libraries[backend]
    source = _doc_id(library, SOURCE)
    with pytest.raises(InvalidInputError, match="No document in the library matches 'zzzz'"):
        library.search_like("zzzz", 1)
    with pytest.raises(InvalidInputError, match=f"{SOURCE} has 4 pages: there is no page 5"):
        library.search_like(source, 5)
    with pytest.raises(InvalidInputError, match="numbered from 1"):
        library.search_like(source, 0)
    with pytest.raises(InvalidInputError, match="at least 1"):
        library.search_like(source, 1, k=0)


def test_a_page_not_indexed_yet_is_said_so(tmp_path: Path, docs: Path, tiny_embedder) -> None:
    library = LocalLibrary(tmp_path / "library", embedder=tiny_embedder)
    library.add([docs / "pdfkit.pdf", docs / SOURCE])
    document = library.find_document(str(docs / SOURCE))
    library.catalog.reset_pages(document.id, keep_vectors=True)  # as an interrupted ingest leaves it
    with pytest.raises(LibraryError, match=f"Page 2 of {SOURCE} is not indexed yet"):
        library.search_like(document.doc_id, 2)
    library.close()


def test_search_like_on_the_command_line(docs: Path, tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    common = ["--library", str(tmp_path / "library"), "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*common, "add", str(docs)]) == 0
    capsys.readouterr()
    source = str(docs / SOURCE)

    assert main([*common, "search", "--like", f"{source}:{PAGE}", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Pages like {SOURCE}, page {PAGE}:"
    hit_lines = [line for line in lines[1:] if re.match(r"\s+\d+\.\s", line)]  # not the snippets
    assert len(hit_lines) == 3 and "extract.pdf  p. 1" in hit_lines[0]
    assert not any(f"{SOURCE}  p. {PAGE} " in line for line in lines)

    assert main([*common, "search", "--like", f"{source}:{PAGE}", "-k", "2", "--json", "--exact"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["rank"] for row in rows] == [1, 2] and Path(rows[0]["path"]).name == "extract.pdf"
    assert all((Path(row["path"]).name, row["page"]) != (SOURCE, PAGE) for row in rows)
    doc_id = rows[0]["doc_id"]
    assert rows[0]["regions"]

    # By doc id, within a document: the other pages of that document only.
    assert main([*common, "search", "--like", f"{doc_id}:1", "--in", source, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {Path(row["path"]).name for row in rows} == {SOURCE}

    for arguments, said in (
        (["search", "net income", "--like", f"{doc_id}:1"], "either a query or --like"),
        (["search"], "Give a query"),
        (["search", "--like", doc_id], "DOC:PAGE"),
        (["search", "--like", f"{doc_id}:9"], "extract.pdf has 1 page: there is no page 9"),
        (["search", "--like", "/no/such.pdf:1"], "No document in the library"),
    ):
        assert main([*common, *arguments]) == 1
        error = capsys.readouterr().err
        assert said in error, (arguments, error)


def test_the_shell_finds_pages_like_a_page(
    docs: Path, tiny_model_dir: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    from test_shell import HIT, ScriptedStdin

    common = ["--library", str(tmp_path / "library"), "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*common, "add", str(docs)]) == 0
    assert main([*common, "search", "--like", f"{docs / SOURCE}:{PAGE}", "-k", "2"]) == 0
    expected = [line for line in capsys.readouterr().out.splitlines() if HIT.match(line)]
    lines = (f":like {docs / SOURCE}:{PAGE}", ":like nowhere", "a page of text")
    monkeypatch.setattr("sys.stdin", ScriptedStdin(*lines))
    assert main([*common, "shell", "-k", "2"]) == 0
    out, err = capsys.readouterr()
    hits = [line for line in out.splitlines() if HIT.match(line)]
    assert len(expected) == 2 and hits[:2] == expected and len(hits) == 4  # then the text query's
    assert "error: :like takes DOC:PAGE" in err
