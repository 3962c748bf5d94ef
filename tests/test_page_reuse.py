"""Unchanged pages keep their vectors: real PDF edits made with PyMuPDF, then re-indexed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pymupdf
from conftest import SAMPLES, CountingEmbedder, corpus_or_skip
from PIL import Image

from docretriever.cli.commands import add_summary
from docretriever.documents import sha256_of_file
from docretriever.documents.pdf import open_pdf
from docretriever.documents.render import render_page
from docretriever.library import AddReport, open_library
from docretriever.library.ingest import content_hash
from docretriever.library.local import LocalLibrary

FOUR_PAGES = "004-pdflatex-4-pages/pdflatex-4-pages.pdf"


def paper(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(corpus_or_skip(SAMPLES) / FOUR_PAGES, folder / "paper.pdf"))


def open_local(tmp_path: Path, embedder: object, **options: object) -> LocalLibrary:
    library = open_library(tmp_path / "lib", embedder=embedder, **options)  # type: ignore[arg-type]
    assert isinstance(library, LocalLibrary)
    return library


def save_incrementally(path: Path, edit) -> None:
    """Apply ``edit(doc)`` and append the change to the file, as an editor's quick save does."""
    with pymupdf.open(path) as doc:
        edit(doc)
        doc.saveIncr()


def retitle(doc: pymupdf.Document) -> None:
    doc.set_metadata({**doc.metadata, "title": "Amended filing", "author": "Someone else"})


def locations(library: LocalLibrary) -> dict[int, tuple]:
    """Page index -> where its vectors are, for the one document the library holds."""
    return {
        page.index: (page.segment, page.row_offset, page.n_rows, page.grid, page.cell_rows)
        for page in library.indexed_pages().values()
    }


def scores(library: LocalLibrary, doc_id: str, exact: bool = False) -> dict[int, float]:
    return {hit.page: hit.score for hit in library.search("text", k=20, exact=exact) if hit.doc_id == doc_id}


def spare_rows(library: LocalLibrary) -> int:
    return int(library.catalog.query("SELECT count(*) FROM spare_vectors")[0][0])


def test_content_hash_covers_pixels_size_and_mode() -> None:
    image = Image.new("RGB", (56, 28), "white")
    assert content_hash(image) == content_hash(image.copy()) and len(content_hash(image)) == 64
    changed = image.copy()
    changed.putpixel((55, 27), (254, 255, 255))  # one channel of one pixel
    assert content_hash(changed) != content_hash(image)
    # The same bytes as another picture: the size and the mode are part of the model input.
    assert Image.new("L", (6, 1)).tobytes() == Image.new("L", (3, 2)).tobytes()
    assert content_hash(Image.new("L", (6, 1))) != content_hash(Image.new("L", (3, 2)))
    assert Image.new("RGB", (1, 1)).tobytes() == Image.new("L", (3, 1)).tobytes()
    assert content_hash(Image.new("RGB", (1, 1))) != content_hash(Image.new("L", (3, 1)))


def test_a_metadata_only_save_embeds_nothing(tmp_path: Path, counting_embedder: CountingEmbedder) -> None:
    path = paper(tmp_path / "papers")
    library = open_local(tmp_path, counting_embedder)
    first = library.add([path.parent])
    assert first.pages_embedded == 4 and first.pages_reused == 0
    (old,) = library.documents()
    before, where, on_disk = scores(library, old.doc_id), locations(library), library.store.bytes_on_disk()
    exact_before = scores(library, old.doc_id, exact=True)
    embedded = counting_embedder.pages_embedded

    save_incrementally(path, retitle)
    report = library.add([path.parent])

    assert report.pages_embedded == 0 and report.pages_reused == 4
    assert counting_embedder.pages_embedded == embedded
    (new,) = library.documents()
    assert new.sha256 == sha256_of_file(path) != old.sha256 and new.status == "indexed"
    assert len(library.indexed_pages()) == 4
    assert locations(library) == where and library.store.bytes_on_disk() == on_disk  # no copy
    assert len(before) == 4 and scores(library, new.doc_id) == before  # equal, not close
    assert scores(library, new.doc_id, exact=True) == exact_before
    library.close()


def test_a_drawing_edit_embeds_only_the_page_it_changed(
    tmp_path: Path, counting_embedder: CountingEmbedder
) -> None:
    path = paper(tmp_path / "papers")
    library = open_local(tmp_path, counting_embedder)
    library.add([path.parent])
    where = locations(library)

    save_incrementally(path, lambda doc: doc[1].insert_text((72, 72), "Amended", fontsize=24))
    report = library.sync()

    assert report.pages_embedded == 1 and report.pages_reused == 3
    after = locations(library)
    assert len(after) == 4 and after[1] != where[1]
    assert {index: after[index] for index in (0, 2, 3)} == {index: where[index] for index in (0, 2, 3)}
    (document,) = library.documents()
    assert document.sha256 == sha256_of_file(path) and document.status == "indexed"
    library.close()


def test_a_one_dot_edit_is_embedded_again(tmp_path: Path, counting_embedder: CountingEmbedder) -> None:
    """The negative control: a page whose picture differs by a few pixels is not reused."""
    path = paper(tmp_path / "papers")
    library = open_local(tmp_path, counting_embedder)
    library.add([path.parent])
    (old,) = library.documents()
    third = next(page for page in library.indexed_pages().values() if page.index == 2)
    size = counting_embedder.render_size(third.width_pt, third.height_pt)
    with open_pdf(path) as pdf:
        before = render_page(path, pdf, third.info, size).image

    def dot(doc: pymupdf.Document) -> None:  # a 1.5 pt grey square in the bottom margin
        doc[2].draw_rect(pymupdf.Rect(300, 760, 301.5, 761.5), color=None, fill=(0.5, 0.5, 0.5))

    save_incrementally(path, dot)
    with open_pdf(path) as pdf:
        after = render_page(path, pdf, third.info, size).image
    changed = int((np.asarray(before) != np.asarray(after)).any(axis=2).sum())
    assert before.size == after.size and 0 < changed <= 9  # a dot, not a redrawn page

    report = library.add([path.parent])
    assert report.pages_embedded == 1 and report.pages_reused == 3
    page = next(page for page in library.indexed_pages().values() if page.index == 2)
    assert page.content_sha256 == content_hash(after) != content_hash(before)
    assert (page.segment, page.row_offset) != (third.segment, third.row_offset)
    assert library.documents()[0].doc_id != old.doc_id
    library.close()


def test_a_removed_document_added_again_embeds_nothing(
    tmp_path: Path, counting_embedder: CountingEmbedder
) -> None:
    path = paper(tmp_path / "papers")
    library = open_local(tmp_path, counting_embedder)
    library.add([path.parent])
    (document,) = library.documents()
    before, where = scores(library, document.doc_id), locations(library)

    library.remove(document.doc_id)
    assert library.documents() == [] and library.indexed_pages() == {} and spare_rows(library) == 4
    report = library.add([path.parent])

    assert report.pages_embedded == 0 and report.pages_reused == 4
    assert locations(library) == where and scores(library, document.doc_id) == before
    library.close()


def test_pages_without_a_content_hash_are_not_kept(
    tmp_path: Path, counting_embedder: CountingEmbedder
) -> None:
    """The negative control of the spare vectors: pages indexed before hashes were kept."""
    path = paper(tmp_path / "papers")
    library = open_local(tmp_path, counting_embedder)
    library.add([path.parent])
    with library.catalog.transaction() as db:
        db.execute("UPDATE pages SET content_sha256 = NULL")
    library.remove(library.documents()[0].doc_id)
    assert spare_rows(library) == 0
    report = library.add([path.parent])
    assert report.pages_embedded == 4 and report.pages_reused == 0
    library.close()


def test_a_pooled_library_reuses_its_pooled_rows(tmp_path: Path, counting_embedder: CountingEmbedder) -> None:
    path = paper(tmp_path / "papers")
    library = open_local(tmp_path, counting_embedder, token_pooling=2)
    library.add([path.parent])
    (old,) = library.documents()
    where, before = locations(library), scores(library, old.doc_id)
    assert all(cell_rows is not None for *_, cell_rows in where.values())

    save_incrementally(path, retitle)
    report = library.add([path.parent])

    assert report.pages_embedded == 0 and report.pages_reused == 4
    assert locations(library) == where  # the pooled rows and their cell map, as they were
    assert scores(library, library.documents()[0].doc_id) == before
    library.close()


def test_identical_pages_of_one_file_are_embedded_once(
    tmp_path: Path, counting_embedder: CountingEmbedder
) -> None:
    """Nine blank pages span batches of 4: the first is embedded, the others wait for it."""
    path = tmp_path / "papers" / "blanks.pdf"
    path.parent.mkdir()
    with pymupdf.open() as doc:
        for _ in range(9):
            doc.new_page(width=612, height=792)
        doc.new_page(width=612, height=792).insert_text((72, 72), "The only words", fontsize=24)
        doc.save(path)
    library = open_local(tmp_path, counting_embedder)
    progress: list[int] = []
    report = library.add([path], progress=lambda p: progress.append(p.done) if p.stage == "Indexing" else 0)

    assert report.pages_embedded == 2 and report.pages_reused == 8
    assert counting_embedder.pages_embedded == 2 and max(progress) == 10  # progress counts both
    pages = library.indexed_pages().values()
    assert len(pages) == 10
    assert len({(page.segment, page.row_offset) for page in pages}) == 2
    library.close()


def test_the_summary_names_reused_pages_only_when_there_are_some() -> None:
    assert "4 unchanged pages reused" in add_summary(AddReport(pages_embedded=1, pages_reused=4), 2.0)
    assert "1 unchanged page reused" in add_summary(AddReport(pages_reused=1), 2.0)
    assert "reused" not in add_summary(AddReport(pages_embedded=3), 2.0)


def test_a_reindex_embeds_again_and_reuses_nothing(
    tmp_path: Path, counting_embedder: CountingEmbedder
) -> None:
    """A re-index is asked to embed again: the vectors it sets aside are not used by it."""
    path = paper(tmp_path / "papers")
    library = open_local(tmp_path, counting_embedder)
    library.add([path.parent])
    report = library.reindex(library.documents()[0].doc_id)
    assert report.pages_embedded == 4 and report.pages_reused == 0 and spare_rows(library) == 4
    library.close()
