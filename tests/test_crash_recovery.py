"""kill -9 during ingest, at 30 seeded moments: nothing committed is lost, nothing is done twice.

Both back ends go through the same ingest; each is killed at the moments where it writes (the
local library's commits, vector writes and index saves; Qdrant's page uploads and document
writes, in local mode).

Each moment ingests the same folder into a fresh library in a child process that is SIGKILLed a
random delay after a chosen operation starts (the Nth SQLite COMMIT, durable vector write or
index save, or the add itself). Then: the catalog passes ``PRAGMA integrity_check``; every page
is indexed (with readable vectors) or still pending; the search index, on opening, agrees with
the catalog; and a second run finishes the job, embedding exactly the pages that were not
committed (the embedder logs every page), ending with the same search results as an
uninterrupted ingest.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES, corpus_or_skip
from helpers.pixel_embedder import PixelEmbedder

from docretriever.library import Library
from docretriever.library.local import LocalLibrary
from docretriever.library.qdrant import QdrantLibrary

CHILD = Path(__file__).parent / "helpers" / "ingest_until_killed.py"
FILES = [
    "001-trivial/minimal-document.pdf",
    "004-pdflatex-4-pages/pdflatex-4-pages.pdf",
    "006-pdflatex-outline/pdflatex-outline.pdf",
    "015-arabic/habibi-rotated.pdf",
    "026-latex-multicolumn/multicolumn.pdf",
]
QUERIES = ["alpha", "beta", "gamma"]
MOMENTS = 30

pytestmark = pytest.mark.reliability


def run_child(library: Path | str, folder: Path, log: Path, *plan: object) -> int:
    command = [sys.executable, str(CHILD), str(library), str(folder), str(log), *map(str, plan)]
    return subprocess.run(command, capture_output=True, timeout=300).returncode


def logged_pages(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def results(library: Library) -> list[list[tuple[str, int, float]]]:
    return [[(h.doc_id, h.page, round(h.score, 4)) for h in library.search(query, k=10)] for query in QUERIES]


def check_after_crash(folder: Path) -> int:
    """The invariants a crash must keep; returns the number of pages committed."""
    with sqlite3.connect(folder / "catalog.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = {row[0] for row in db.execute("SELECT status FROM pages")}
        assert statuses <= {"indexed", "pending"}, statuses
        assert {row[0] for row in db.execute("SELECT status FROM documents")} <= {"indexed", "pending"}
        duplicates = db.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM pages GROUP BY document_id, page_index HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        assert duplicates == 0
    library = LocalLibrary(folder, embedder=PixelEmbedder())
    indexed = library.indexed_pages()
    for page in indexed.values():  # every committed page's vectors are there and whole
        rows = library.page_rows(page)
        assert rows.shape == (page.n_rows, 128) and np.isfinite(rows).all()
    assert library.candidates.page_ids() == set(indexed)  # rebuilt if it disagreed
    library.close()
    return len(indexed)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inbox")
    for name in FILES:
        shutil.copy(corpus_or_skip(SAMPLES) / name, folder / Path(name).name)
    return folder


@pytest.fixture(scope="module")
def reference(inbox: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, list]:
    folder = tmp_path_factory.mktemp("reference")
    log = folder / "calls.log"
    assert run_child(folder / "lib", inbox, log) == 0
    library = LocalLibrary(folder / "lib", embedder=PixelEmbedder())
    total = len(library.indexed_pages())
    expected = results(library)
    library.close()
    assert total == logged_pages(log) == 16
    return total, expected


def test_kill_minus_nine_at_thirty_moments_loses_nothing(inbox: Path, reference, tmp_path: Path) -> None:
    total, expected = reference
    rng = np.random.default_rng(20261122)
    points = ["commit", "vectors", "index-save", "start"]
    killed = 0
    for moment in range(MOMENTS):
        point = points[moment % len(points)]
        if point == "start":
            plan: tuple[object, ...] = (point, 1, round(float(rng.uniform(0.0, 1.5)), 3))
        else:
            nth = int(rng.integers(1, {"commit": 30, "vectors": 9, "index-save": 9}[point]))
            plan = (point, nth, round(float(rng.uniform(0.0, 0.01)), 4))
        folder = tmp_path / f"lib{moment}"
        code = run_child(folder, inbox, tmp_path / f"first{moment}.log", *plan)
        assert code in (0, -9), (plan, code)
        killed += code == -9
        committed = check_after_crash(folder) if folder.exists() else 0
        log = tmp_path / f"second{moment}.log"
        assert run_child(folder, inbox, log) == 0, plan
        assert logged_pages(log) == total - committed, plan  # committed pages were not embedded again
        library = LocalLibrary(folder, embedder=PixelEmbedder())
        assert len(library.indexed_pages()) == total
        assert not list(folder.glob(".index-*"))  # an interrupted save's temporary file is gone
        assert results(library) == expected, plan
        library.close()
    print(f"{killed} of {MOMENTS} ingests were killed mid-way")
    assert killed >= MOMENTS * 2 // 3  # most plans really killed the ingest mid-way


QDRANT_MOMENTS = 12


def qdrant_results(location: str) -> tuple[int, list[list[tuple[str, int, float]]]]:
    """Pages stored and the search results of the Qdrant library at ``location``."""
    library = QdrantLibrary(location, embedder=PixelEmbedder())
    try:
        return library.store.count_pages(), results(library)
    finally:
        library.close()


def check_qdrant_after_crash(location: str) -> int:
    """The invariants a crash must keep in a Qdrant library; returns the pages it holds."""
    library = QdrantLibrary(location, embedder=PixelEmbedder())
    try:
        documents = library.documents()
        assert {document.status for document in documents} <= {"indexed", "pending"}
        for document in documents:
            held = library.store.stored_page_indexes(document.sha256)
            if document.status == "indexed":  # marked indexed only after its last page
                assert len(held) == document.page_count, document
            for _, embedding, _ in library.store.document_pages(document.sha256):
                assert embedding.vectors.shape[1] == 128 and np.isfinite(embedding.vectors).all()
        return library.store.count_pages()
    finally:
        library.close()


def test_qdrant_kill_minus_nine_loses_nothing_and_embeds_nothing_twice(inbox: Path, tmp_path: Path) -> None:
    reference = f"qdrant+local://{tmp_path}/reference/pages"
    log = tmp_path / "reference.log"
    assert run_child(reference, inbox, log) == 0
    total, expected = qdrant_results(reference)
    assert total == logged_pages(log) == 16
    rng = np.random.default_rng(20261202)
    points = ["upload", "document", "start"]
    killed = 0
    for moment in range(QDRANT_MOMENTS):
        point = points[moment % len(points)]
        if point == "start":
            plan: tuple[object, ...] = (point, 1, round(float(rng.uniform(0.5, 3.0)), 3))
        else:
            nth = int(rng.integers(1, {"upload": 8, "document": 10}[point]))
            plan = (point, nth, round(float(rng.uniform(0.0, 0.01)), 4))
        location = f"qdrant+local://{tmp_path}/lib{moment}/pages"
        code = run_child(location, inbox, tmp_path / f"first{moment}.log", *plan)
        assert code in (0, -9), (plan, code)
        killed += code == -9
        stored = check_qdrant_after_crash(location)
        log = tmp_path / f"second{moment}.log"
        assert run_child(location, inbox, log) == 0, plan
        assert logged_pages(log) == total - stored, plan  # uploaded pages were not embedded again
        assert qdrant_results(location) == (total, expected), plan
    print(f"{killed} of {QDRANT_MOMENTS} Qdrant ingests were killed mid-way")
    assert killed >= QDRANT_MOMENTS // 2  # most plans really killed the ingest mid-way
