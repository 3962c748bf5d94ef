"""Printed page numbers (PDF page labels): read at ingest in the render workers, kept in the
catalog and on Qdrant, and shown with the page's place in the file ("p. 1 (3/5)")."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pymupdf
import pytest
from conftest import SAMPLES, corpus_or_skip

from docretriever.cli import main
from docretriever.documents.pdf import PageInfo, open_pdf, read_page_infos
from docretriever.documents.render_pool import RenderPool
from docretriever.library import open_library
from docretriever.library.hits import page_name, page_name_of
from docretriever.library.qdrant import QdrantLibrary
from docretriever.storage.catalog import Catalog

# A book's opening: two pages of front matter numbered i, ii, then chapter pages 1, 2, 3.
LABELS = ["i", "ii", "1", "2", "3"]


def labelled_pdf(path: Path) -> Path:
    """A 5-page PDF whose printed numbers differ from its page numbers (see LABELS)."""
    document = pymupdf.open()
    for number, label in enumerate(LABELS, start=1):
        page = document.new_page()
        page.insert_text((72, 144), f"Page {number}, numbered {label}: the history of bridges", fontsize=18)
    document.set_page_labels(
        [
            {"startpage": 0, "prefix": "", "style": "r", "firstpagenum": 1},
            {"startpage": 2, "prefix": "", "style": "D", "firstpagenum": 1},
        ]
    )
    document.save(path)
    document.close()
    return path


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    """A folder with the labelled PDF and a sample without labels."""
    folder = tmp_path / "docs"
    folder.mkdir()
    labelled_pdf(folder / "book.pdf")
    shutil.copy(corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf", folder)
    return folder


def test_labels_are_read_from_the_pdf_and_absent_without_them(docs: Path) -> None:
    with open_pdf(docs / "book.pdf") as document:
        assert [info.label for info in read_page_infos(document)] == LABELS
    with open_pdf(docs / "pdfkit.pdf") as document:
        assert all(info.label is None for info in read_page_infos(document))


def test_the_render_workers_pass_the_labels_through(docs: Path) -> None:
    """Ingest inspects files in worker processes: the labels must survive the trip back."""
    pool = RenderPool(workers=1)
    try:
        assert [info.label for info in pool.inspect(docs / "book.pdf")] == LABELS
    finally:
        pool.close()


def test_page_names_show_the_printed_number_and_the_place_in_the_file() -> None:
    assert page_name_of(95, "92", 117) == "p. 92 (95/117)"
    assert page_name_of(3, "1", None) == "p. 1 (3)"
    assert page_name_of(95, None, 117) == "p. 95"
    assert page_name_of(95, "95", 117) == "p. 95", "a label equal to the number says nothing more"
    assert page_name_of(4, "", 5) == "p. 4"


def test_hits_carry_the_label_in_the_library_json_and_cli(
    tmp_path: Path, docs: Path, tiny_model_dir: Path, tiny_embedder, capsys
) -> None:
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    library.add([docs])
    hits = library.search("bridges", k=20, exact=True)
    book = sorted((h for h in hits if h.path.endswith("book.pdf")), key=lambda h: h.page)
    assert [h.page_label for h in book] == LABELS and all(h.page_count == 5 for h in book)
    assert [page_name(h) for h in book] == [
        "p. i (1/5)",
        "p. ii (2/5)",
        "p. 1 (3/5)",
        "p. 2 (4/5)",
        "p. 3 (5/5)",
    ]
    other = next(h for h in hits if h.path.endswith("pdfkit.pdf"))
    assert other.page_label is None and page_name(other) == f"p. {other.page}"
    assert book[2].as_dict()["page_label"] == "1" and other.as_dict()["page_label"] is None
    doc_id = book[0].doc_id
    assert [info.label for info in library.page_infos(doc_id)] == LABELS
    library.close()

    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*common, "search", "bridges", "-k", "20", "--exact"]) == 0
    out = capsys.readouterr().out
    assert "book.pdf  p. 1 (3/5)  [" in out and "book.pdf  p. ii (2/5)  [" in out
    assert f"pdfkit.pdf  p. {other.page}  [" in out
    assert main([*common, "search", "bridges", "-k", "20", "--exact", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(row["page"], row["page_label"]) for row in rows if row["path"].endswith("book.pdf")} == {
        (number, label) for number, label in enumerate(LABELS, start=1)
    }


def test_an_older_catalog_without_labels_shows_numbers_then_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    catalog = Catalog(path)
    document, _ = catalog.attach_file("ab" * 32, 10, "/docs/a.pdf", 0.0)
    catalog.set_pages(document, [PageInfo(0, 612, 792, 0)])
    catalog.close()
    with sqlite3.connect(path) as db:  # as a catalog written before labels were kept
        db.execute("ALTER TABLE pages DROP COLUMN label")
    catalog = Catalog(path)
    assert [page.label for page in catalog.pages()] == [None], "read without migrating"
    # A document inspected again (an interrupted add resumed) gets its labels, pages kept.
    catalog.set_pages(document, [PageInfo(0, 612, 792, 0, "iv"), PageInfo(1, 612, 792, 0, "v")])
    assert [(page.index, page.label) for page in catalog.pages()] == [(0, "iv"), (1, "v")]
    catalog.close()


def test_qdrant_keeps_the_labels(docs: Path, tiny_embedder) -> None:
    library = QdrantLibrary("qdrant+local://:memory:/pages", embedder=tiny_embedder)
    library.add([docs / "book.pdf"])
    hits = library.search("bridges", k=5, exact=True)
    assert sorted((h.page, h.page_label, h.page_count) for h in hits) == [
        (number, label, 5) for number, label in enumerate(LABELS, start=1)
    ]
    assert [info.label for info in library.page_infos(hits[0].doc_id)] == LABELS
    library.close()
