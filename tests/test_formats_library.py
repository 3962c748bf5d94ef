"""Every document format end to end with the tiny model, on both back ends: a mixed folder
(images, a rotated phone photo, a multi-page TIFF, XPS, EPUB, CBZ, SVG, an Office file through a
stand-in LibreOffice) is indexed page by page and searchable, its pages are shown upright, and
bad files (truncated, too large, a hanging conversion, an unknown kind given by name) fail
alone with a reason while the rest is indexed. Then the same through the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from document_samples import (
    install_stand_in_soffice,
    save_with_orientation,
    text_image,
    write_cbz,
    write_docx,
    write_epub,
    write_svg,
    write_tiff,
    write_xps,
)
from test_formats import png_header_only

from docretriever.cli import main
from docretriever.documents.formats import IMAGE_EXTENSIONS
from docretriever.documents.render_pool import RenderPool
from docretriever.library.local import LocalLibrary
from docretriever.library.qdrant import QdrantLibrary

# Pages each good file holds.
GOOD = {
    "scan.png": 1,
    "phone-photo.jpg": 1,
    "fax.tiff": 3,
    "slides.webp": 1,
    "old.bmp": 1,
    "form.xps": 2,
    "book.epub": 2,
    "comic.cbz": 2,
    "chart.svg": 1,
    "report.docx": 2,
}
BAD = {
    "cut.png": "damaged or truncated",
    "poster.png": "too large to index",
    "stuck.docx": "LibreOffice took longer than",
    "notes.txt": "not a kind of document DocRetriever reads",
}


@pytest.fixture()
def office_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = install_stand_in_soffice(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{program.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("DOCRETRIEVER_SOFFICE", raising=False)
    monkeypatch.setenv("DOCRETRIEVER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture()
def mixed(tmp_path: Path, office_stand_in: None) -> Path:
    folder = tmp_path / "inbox"
    (folder / "scans").mkdir(parents=True)
    text_image("invoice total 300 euros").save(folder / "scan.png")
    save_with_orientation(folder / "scans" / "phone-photo.jpg", text_image("a receipt", (640, 480)), 6)
    write_tiff(folder / "scans" / "fax.tiff", [text_image(f"fax page {n}") for n in range(3)])
    text_image("a slide").save(folder / "slides.webp")
    text_image("an old bitmap").save(folder / "old.bmp")
    write_xps(folder / "form.xps", [(816, 1056, "#FF0000"), (816, 1056, "#0000FF")])
    write_epub(folder / "book.epub", ["chapter one", "chapter two"])
    write_cbz(folder / "comic.cbz", [text_image("panel one"), text_image("panel two")])
    write_svg(folder / "chart.svg", "a bar chart")
    write_docx(folder / "report.docx", ["annual report", "appendix"])
    whole = folder / "whole.png"
    text_image("whole", (800, 600)).save(whole)
    (folder / "cut.png").write_bytes(whole.read_bytes()[:3000])
    whole.unlink()
    png_header_only(folder / "poster.png", 20_000, 20_000)
    write_docx(folder / "stuck.docx", ["hang forever"])
    (folder / "readme.txt").write_text("not taken from a folder\n")
    (tmp_path / "notes.txt").write_text("given by name\n")
    return folder


def library_of(kind: str, tmp_path: Path, embedder) -> LocalLibrary | QdrantLibrary:
    # A short request limit: the hanging conversion is stopped at 5/6 of it.
    renderer = RenderPool(workers=1, timeout_s=6)
    if kind == "local":
        return LocalLibrary(tmp_path / "lib", embedder=embedder, renderer=renderer)
    return QdrantLibrary("qdrant+local://:memory:/pages", embedder=embedder, renderer=renderer)


@pytest.mark.parametrize("kind", ["local", "qdrant"])
def test_a_mixed_folder_is_indexed_page_by_page_and_bad_files_fail_alone(
    kind: str, mixed: Path, tmp_path: Path, tiny_embedder
) -> None:
    library = library_of(kind, tmp_path, tiny_embedder)
    try:
        report = library.add([mixed, tmp_path / "notes.txt"])
        outcomes = {Path(o.path).name: o for o in report.outcomes}
        assert set(outcomes) == set(GOOD) | set(BAD)  # readme.txt is not taken from the folder
        for name in GOOD:
            assert outcomes[name].status == "indexed", (name, outcomes[name].error)
        for name, reason in BAD.items():
            assert outcomes[name].status == "failed" and reason in (outcomes[name].error or ""), name
        documents = {Path(d.paths[0]).name: d for d in library.documents() if d.status == "indexed"}
        assert {name: documents[name].page_count for name in GOOD} == GOOD
        # Every page of every format is in the index: a search as wide as the library finds each.
        total = sum(GOOD.values())
        hits = library.search("a page", k=total, exact=True)
        assert {(h.doc_id, h.page) for h in hits} == {
            (documents[name].doc_id, page) for name, pages in GOOD.items() for page in range(1, pages + 1)
        }
        # The phone photo, stored sideways, is shown upright: landscape, the black corner top left.
        photo = library.render_page(documents["phone-photo.jpg"].doc_id, 1, 120_000).image
        assert photo.width > photo.height
        assert photo.getpixel((3, 3))[0] < 80 and photo.getpixel((photo.width - 4, 3))[0] > 180
        # The Office file's page is drawn from the cached PDF, without converting again.
        report_page = library.render_page(documents["report.docx"].doc_id, 2, 50_000).image
        assert report_page.height > report_page.width
        tiff_page = library.render_page(documents["fax.tiff"].doc_id, 3, 50_000)
        assert tiff_page.renderer == "pillow"
        # Snippets read every format's text layer in the worker; an image has none.
        snippets = library.snippets(hits)
        assert len(snippets) == len(hits)
        images = {documents[name].doc_id for name in GOOD if Path(name).suffix in IMAGE_EXTENSIONS}
        assert all(s is None for h, s in zip(hits, snippets, strict=True) if h.doc_id in images)
        # A page of any format is a query for pages like it; it is left out of its own results.
        fax = documents["fax.tiff"].doc_id
        like = library.search_like(fax, 2, k=5, exact=True)
        assert len(like) == 5 and (fax, 2) not in {(h.doc_id, h.page) for h in like}
    finally:
        library.close()


def test_the_cli_adds_a_mixed_folder_lists_and_searches_it(
    mixed: Path, tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    for bad in ("stuck.docx", "poster.png", "cut.png"):
        (mixed / bad).unlink()  # the CLI's own limits: the hanging file is the library test's
    assert main([*common, "add", str(mixed), str(tmp_path / "notes.txt")]) == 0
    out, err = capsys.readouterr()
    assert f"{len(GOOD)} indexed" in out and "1 failed" in out
    assert "notes.txt is not a kind of document DocRetriever reads" in err

    assert main([*common, "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    pages = {Path(row["paths"][0]).name: row["pages"] for row in rows if row["status"] == "indexed"}
    assert pages == GOOD
    assert main([*common, "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in GOOD) and "notes.txt" in listed

    assert main([*common, "search", "a receipt", "-k", str(sum(GOOD.values())), "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert {Path(hit["path"]).name for hit in hits} == set(GOOD)


def test_sync_follows_a_folder_of_images_new_moved_and_missing(tmp_path: Path, counting_embedder) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    text_image("first scan").save(folder / "first.png")
    library = LocalLibrary(tmp_path / "lib", embedder=counting_embedder)
    try:
        library.add([folder])
        (folder / "2025").mkdir()
        (folder / "first.png").rename(folder / "2025" / "first, renamed.PNG")
        write_tiff(folder / "batch.tif", [text_image("batch one"), text_image("batch two")])
        report = library.sync()
        assert {(Path(o.path).name, o.status) for o in report.outcomes} >= {
            ("first, renamed.PNG", "moved"),
            ("batch.tif", "indexed"),
        }
        assert counting_embedder.pages_embedded == 1 + 2  # the moved scan is not embedded again
        (folder / "batch.tif").unlink()
        library.sync()
        assert [Path(d.paths[0]).name for d in library.missing_documents()] == ["batch.tif"]
    finally:
        library.close()
