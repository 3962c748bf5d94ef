"""One writer at a time across processes; readers search during an ingest and see its pages."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip
from helpers.pixel_embedder import PixelEmbedder

from docretriever.errors import LibraryError
from docretriever.library.local import LocalLibrary

CHILD = Path(__file__).parent / "helpers" / "ingest_until_killed.py"


def indexed_count(folder: Path) -> int:
    try:
        with sqlite3.connect(folder / "catalog.sqlite3", timeout=10) as db:
            return int(db.execute("SELECT COUNT(*) FROM pages WHERE status = 'indexed'").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_a_second_writer_is_refused_and_readers_see_pages_as_they_commit(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(corpus_or_skip(SAMPLES) / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf", inbox)
    folder = tmp_path / "lib"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(folder), str(inbox), str(tmp_path / "calls.log")],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while indexed_count(folder) == 0:  # wait for the first committed batch
            assert child.poll() is None and time.monotonic() < deadline, child.stderr
            time.sleep(0.05)
        reader = LocalLibrary(folder, embedder=PixelEmbedder())
        with pytest.raises(LibraryError, match="another DocRetriever window or command"):
            reader.add([inbox])
        seen = []
        while child.poll() is None:  # readers keep searching while the ingest runs
            seen.append(len(reader.search("topology", k=5)) and len(reader.indexed_pages()))
        assert child.wait() == 0
    finally:
        child.kill()
    assert any(0 < n < 117 for n in seen), seen[:5]  # a search ran on a partly built library
    assert seen == sorted(seen)  # pages only ever appear
    assert len(reader.search("topology", k=5)) == 5 and len(reader.indexed_pages()) == 117
    assert reader.candidates.page_ids() == set(reader.indexed_pages())
    assert reader.add([inbox]).count("skipped") == 1  # the writer is gone: the lock is free
    reader.close()
