"""A full disk during ingest: a clear error, nothing committed lost, the index file untouched,
and a retry that completes once space is freed. Runs on a small tmpfs (needs root to mount)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip

from docretriever.errors import DocRetrieverError
from docretriever.library import open_library


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount_point)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path, leave_bytes: int) -> Path:
    """Take all free space on folder's file system but ``leave_bytes``."""
    filler = folder / "filler"
    free = shutil.disk_usage(folder).free
    with open(filler, "wb") as handle:
        handle.truncate(0)
        handle.write(b"\0" * max(0, free - leave_bytes))
    return filler


def test_a_full_disk_fails_clearly_keeps_everything_and_a_retry_completes(
    small_disk: Path, tmp_path: Path, tiny_embedder
) -> None:
    samples = corpus_or_skip(SAMPLES)
    first = samples / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf"
    second = samples / "026-latex-multicolumn" / "multicolumn.pdf"
    library = open_library(small_disk / "lib", embedder=tiny_embedder)
    library.add([first])
    index_file = small_disk / "lib" / "index.usearch"
    index_bytes = index_file.read_bytes()
    before = [(h.doc_id, h.page, h.score) for h in library.search("proof", k=4)]

    filler = fill(small_disk, leave_bytes=8 * 1024)
    with pytest.raises(DocRetrieverError, match=r"space|full") as raised:
        library.add([second])
    assert "\n" not in str(raised.value)
    assert index_file.read_bytes() == index_bytes  # byte-identical
    assert not list((small_disk / "lib").glob(".index-*"))
    assert [(h.doc_id, h.page, h.score) for h in library.search("proof", k=4)] == before
    library.close()

    filler.unlink()
    library = open_library(small_disk / "lib", embedder=tiny_embedder)
    assert [(h.doc_id, h.page, h.score) for h in library.search("proof", k=4)] == before
    report = library.add([second])
    assert report.outcomes[0].status == "indexed" and report.pages_embedded == 3
    assert {d.status for d in library.documents()} == {"indexed"}
    assert len(library.indexed_pages()) == 7
    library.close()
