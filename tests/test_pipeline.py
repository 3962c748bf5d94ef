"""The ingest pipeline stores exactly what embedding each page on its own gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from conftest import SAMPLES, corpus_or_skip

from docretriever.documents.pdf import open_pdf
from docretriever.documents.render import render_page
from docretriever.library.local import LocalLibrary

FILES = [
    "015-arabic/habibi-rotated.pdf",  # rotated pages
    "004-pdflatex-4-pages/pdflatex-4-pages.pdf",
    "022-pdfkit/pdfkit.pdf",
    "026-latex-multicolumn/multicolumn.pdf",
]


def test_a_multi_document_ingest_stores_the_vectors_of_page_by_page_embedding(
    tmp_path: Path, tiny_embedder
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in FILES:
        shutil.copy(corpus_or_skip(SAMPLES) / name, inbox)
    library = LocalLibrary(tmp_path / "lib", embedder=tiny_embedder)
    report = library.add([inbox])
    assert report.pages_embedded == 12 and report.count("indexed") == 4
    pages = library.indexed_pages().values()
    assert len(pages) == 12
    for page in pages:
        document = library.catalog.document(page.document_id)
        path = Path(document.paths[0])
        with open_pdf(path) as pdf:
            size = tiny_embedder.render_size(page.width_pt, page.height_pt)
            image = render_page(path, pdf, page.info, size).image
        (alone,) = tiny_embedder.embed_pages([image])
        assert page.grid == alone.grid
        stored = library.page_rows(page).astype(np.float32)
        assert stored.shape == alone.vectors.shape
        # float16 storage; batching pads shorter pages, which must not change their vectors.
        np.testing.assert_allclose(stored, alone.vectors, atol=2e-3)
    library.close()


def test_pages_are_prepared_off_the_thread_that_runs_the_model(tmp_path: Path, tiny_embedder) -> None:
    import threading

    class ThreadRecorder:
        def __init__(self, inner) -> None:
            self.inner, self.threads = inner, {"prepare": set(), "embed": set()}
            self.identity, self.geometry, self.batch_size = inner.identity, inner.geometry, 2
            self.render_size = inner.render_size

        def prepare_pages(self, images):
            self.threads["prepare"].add(threading.get_ident())
            return self.inner.prepare_pages(images)

        def embed_pages(self, pages, cancel=None):
            self.threads["embed"].add(threading.get_ident())
            assert type(pages).__name__ == "ProcessedBatches"  # the model thread only runs the model
            return self.inner.embed_pages(pages, cancel)

    recorder = ThreadRecorder(tiny_embedder)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(corpus_or_skip(SAMPLES) / FILES[1], inbox)
    library = LocalLibrary(tmp_path / "lib", embedder=recorder)
    assert library.add([inbox]).pages_embedded == 4
    library.close()
    assert recorder.threads["embed"] == {threading.get_ident()}
    assert recorder.threads["prepare"] and not recorder.threads["prepare"] & recorder.threads["embed"]
