"""Mutated PDFs (flipped bytes, cut tails, spliced chunks): each ends indexed or failed with a
reason, nothing stays pending, and the untouched files of the batch are indexed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES, corpus_or_skip
from helpers.pixel_embedder import PixelEmbedder

from docretriever.library.local import LocalLibrary

SOURCES = [
    "004-pdflatex-4-pages/pdflatex-4-pages.pdf",
    "012-libreoffice-form/libreoffice-form.pdf",
    "019-grayscale-image/grayscale-image.pdf",
    "015-arabic/habibi-rotated.pdf",
]
VARIANTS = 200

pytestmark = pytest.mark.reliability


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    buffer = bytearray(data)
    kind = int(rng.integers(4))
    if kind == 0:  # flip bytes anywhere
        for position in rng.integers(len(buffer), size=int(rng.integers(1, 64))):
            buffer[position] = int(rng.integers(256))
    elif kind == 1:  # cut the tail (a partial download)
        del buffer[int(rng.integers(len(buffer))) :]
    elif kind == 2:  # splice a chunk of the file somewhere else
        start = int(rng.integers(len(buffer)))
        chunk = buffer[start : start + int(rng.integers(1, 4096))]
        at = int(rng.integers(len(buffer)))
        buffer[at:at] = chunk
    else:  # zero a run (a bad sector)
        start = int(rng.integers(len(buffer)))
        buffer[start : start + int(rng.integers(1, 2048))] = bytes(min(2048, len(buffer) - start))
    return bytes(buffer)


def test_mutated_pdfs_never_crash_the_ingest_nor_stay_pending(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    originals = [corpus_or_skip(SAMPLES) / name for name in SOURCES]
    for original in originals:
        shutil.copy(original, inbox / original.name)
    for number in range(VARIANTS):
        source = originals[number % len(originals)]
        (inbox / f"mutant-{number:02d}.pdf").write_bytes(mutate(source.read_bytes(), rng))
    library = LocalLibrary(tmp_path / "lib", embedder=PixelEmbedder())
    report = library.add([inbox])
    statuses = {Path(o.path).name: o.status for o in report.outcomes}
    assert all(statuses[original.name] == "indexed" for original in originals)
    assert set(statuses.values()) <= {"indexed", "failed", "skipped"}
    assert all(o.error for o in report.outcomes if o.status == "failed")
    assert {d.status for d in library.documents()} <= {"indexed", "failed"}
    assert not library.catalog.pages(status="pending")
    counts = ", ".join(f"{report.count(status)} {status}" for status in ("indexed", "failed", "skipped"))
    print(f"{len(report.outcomes)} files: {counts}")
    library.close()
