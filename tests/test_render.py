"""Opening and rendering real PDFs (no model needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from conftest import SAMPLES, corpus_or_skip
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

from docretriever.documents import PageInfo, open_pdf, read_page_infos, render_page
from docretriever.documents import render as render_module
from docretriever.embedding.geometry import COLQWEN2_GEOMETRY
from docretriever.errors import DocumentError, EncryptedDocumentError, PageError

BUDGET = 768 * 28 * 28
fit_to_cell_budget = COLQWEN2_GEOMETRY.fit_pixels


def model_size(page: PageInfo) -> tuple[int, int]:
    """The size ColQwen2 at 768 cells renders ``page`` at."""
    return fit_to_cell_budget(page.width_pt, page.height_pt, BUDGET)


# MuPDF's repair of this file's damaged page tree finds no pages; poppler reports 4 pages of
# size 0 x 0. Neither engine can render it, so it must fail with a reason.
UNRECOVERABLE = {"017-unreadable-meta-data/unreadablemetadata.pdf"}


@pytest.mark.parametrize(
    ("width", "height"),
    [(612, 792), (595.28, 841.89), (842, 595), (1920, 1080), (3.84, 3.84), (14400, 14400), (100, 5000)],
)
def test_fit_to_cell_budget_is_what_the_processor_would_pick(width: float, height: float) -> None:
    w, h = fit_to_cell_budget(width, height, BUDGET)
    assert w % 28 == 0 and h % 28 == 0
    assert w * h <= BUDGET
    # The processor must leave an image of this size unchanged: no second resize.
    assert smart_resize(h, w, factor=28, min_pixels=56 * 56, max_pixels=BUDGET) == (h, w)
    # The shape is kept: within one cell per side for ordinary pages, a few percent for strips.
    scale = (BUDGET / (width * height)) ** 0.5
    assert abs(w - width * scale) < 28 or abs(w / (width * scale) - 1) < 0.05
    assert abs(h - height * scale) < 28 or abs(h / (height * scale) - 1) < 0.05
    # A page at the budget uses most of it (under-filled pages lose recall).
    assert w * h >= 0.85 * BUDGET


def test_too_narrow_page_is_a_page_error() -> None:
    with pytest.raises(PageError, match="too narrow"):
        fit_to_cell_budget(10, 5000, BUDGET)


def test_every_sample_renders_with_the_manifest_page_count(sample_manifest: dict) -> None:
    for relative, entry in sample_manifest.items():
        path = SAMPLES / relative
        if entry["encrypted"]:
            with pytest.raises(EncryptedDocumentError, match="password"), open_pdf(path):
                pass
            continue
        if relative in UNRECOVERABLE:
            with pytest.raises(DocumentError, match="no pages"), open_pdf(path):
                pass
            continue
        with open_pdf(path) as document:
            pages = read_page_infos(document)
            assert len(pages) == entry["pages"], relative
            for page in pages[:3]:
                rendered = render_page(path, document, page, model_size(page))
                width, height = rendered.image.size
                assert width % 28 == 0 and height % 28 == 0, relative
                assert width * height <= BUDGET
                assert rendered.renderer == "mupdf"


def test_rotated_page_renders_upright() -> None:
    path = corpus_or_skip(SAMPLES) / "015-arabic" / "habibi-rotated.pdf"
    with open_pdf(path) as document:
        page = read_page_infos(document)[0]
        rendered = render_page(path, document, page, model_size(page))
    assert page.rotation == 90
    assert page.width_pt > page.height_pt  # displayed landscape, stored portrait
    assert rendered.image.width > rendered.image.height


def test_huge_page_renders_under_the_pixel_cap(tmp_path: Path) -> None:
    path = tmp_path / "huge.pdf"
    document = pymupdf.open()
    page = document.new_page(width=14400, height=14400)
    page.insert_text((100, 7200), "a very large page", fontsize=400)
    document.save(path)
    with open_pdf(path) as opened:
        info = read_page_infos(opened)[0]
        rendered = render_page(path, opened, info, model_size(info))
    assert rendered.image.width * rendered.image.height <= BUDGET


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler (pdftoppm) is not installed")
def test_poppler_renders_when_mupdf_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    path = corpus_or_skip(SAMPLES) / "015-arabic" / "habibi-rotated.pdf"

    def broken(*args: object) -> None:
        raise RuntimeError("simulated MuPDF failure")

    with open_pdf(path) as document:
        page = read_page_infos(document)[0]
        by_mupdf = render_page(path, document, page, model_size(page))
    monkeypatch.setattr(render_module, "_render_with_mupdf", broken)
    rendered = render_page(path, None, page, model_size(page))
    assert rendered.renderer == "poppler"
    assert rendered.image.size == fit_to_cell_budget(page.width_pt, page.height_pt, BUDGET)
    assert rendered.image.width > rendered.image.height  # poppler honours /Rotate too
    # The same picture, not only the same size (tests/test_render_fallback.py has the cases).
    difference = np.abs(
        np.asarray(rendered.image, dtype=np.float64) - np.asarray(by_mupdf.image, dtype=np.float64)
    ).mean()
    assert difference < 5.0


def test_page_error_when_no_renderer_can_draw_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    path = corpus_or_skip(SAMPLES) / "001-trivial" / "minimal-document.pdf"

    def broken(*args: object) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(render_module, "_render_with_mupdf", broken)
    monkeypatch.setattr(render_module, "_render_with_poppler", broken)
    with open_pdf(path) as document:
        page = read_page_infos(document)[0]
    with pytest.raises(PageError, match="could not be rendered"):
        render_page(path, None, page, model_size(page))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"hello, I am text", "not a readable PDF"),
        (bytes(range(256)) * 40, "not a readable PDF"),
    ],
)
def test_non_pdfs_are_refused_clearly(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "file.pdf"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=message), open_pdf(path):
        pass


def test_truncated_pdf_is_an_error_not_an_empty_document(tmp_path: Path) -> None:
    source = corpus_or_skip(SAMPLES) / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf"
    path = tmp_path / "truncated.pdf"
    path.write_bytes(source.read_bytes()[:2000])
    with pytest.raises(DocumentError), open_pdf(path):
        pass


def test_a_page_is_drawn_at_exactly_the_size_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "page.pdf"
    with pymupdf.open() as document:
        document.new_page(width=200, height=300).insert_text((20, 50), "hello")
        document.save(path)
    with open_pdf(path) as document:
        info = read_page_infos(document)[0]
        for size in [(20, 30), (200, 300), (57, 91)]:  # any size: nothing here rounds to cells
            assert render_page(path, document, info, size).image.size == size
        # A page info of another shape (the page changed since it was read) is never stretched.
        with pytest.raises(PageError, match="size changed since it was read"):
            render_page(path, document, PageInfo(0, 300.0, 200.0, 0), (30, 20))
        for bad in [(0, 10), (10.5, 10), (10,)]:
            with pytest.raises(PageError, match="cannot be rendered at"):
                render_page(path, document, info, bad)  # type: ignore[arg-type]
