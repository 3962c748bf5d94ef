"""Fixtures for tests on the trained tiny reading model (models/tiny-reader) and held-out pages.

The held-out pages come from a generator seed that training never saw (training used seed 1,
its progress monitor seed 1000); the thresholds the tests use were measured on these pages.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from docretriever.testing.reading_pages import ReadingPage, held_out_set, write_pdf

ROOT = Path(__file__).resolve().parent.parent
READER = ROOT / "models" / "tiny-reader"
TEST_SEED = 2000
HELD_OUT_PAGES = 200
# Half the pages upright, the other half turned by /Rotate 90, 180 and 270 in turn.
ROTATIONS = (0, 90, 0, 180, 0, 270)
BUDGETS = (128, 192)


def reader_manifest() -> dict[str, object]:
    return json.loads((READER / "manifest.json").read_text())


@pytest.fixture(scope="session")
def reader_dir() -> Path:
    """The committed reading model, after checking its weights against the manifest's digest."""
    digest = hashlib.sha256((READER / "model.safetensors").read_bytes()).hexdigest()
    assert digest == reader_manifest()["weights_sha256"], "models/tiny-reader weights changed"
    return READER


@pytest.fixture(scope="session")
def held_out_pages() -> list[tuple[ReadingPage, str]]:
    return held_out_set(TEST_SEED, HELD_OUT_PAGES, rotations=ROTATIONS)


@pytest.fixture(scope="session")
def held_out_pdf(held_out_pages, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("held-out")
    return write_pdf([page for page, _ in held_out_pages], folder / "held-out.pdf")


@pytest.fixture(scope="session", params=BUDGETS, ids=lambda b: f"{b}-tokens")
def reader_library(request, reader_dir: Path, held_out_pdf: Path, tmp_path_factory):
    """A library of the held-out PDF indexed by the reading model at each of :data:`BUDGETS`."""
    from docretriever.embedding import ModelSpec
    from docretriever.library import open_library

    budget = request.param
    folder = tmp_path_factory.mktemp(f"reader-library-{budget}")
    library = open_library(folder / "lib", ModelSpec(str(reader_dir), device="cpu", visual_tokens=budget))
    report = library.add([held_out_pdf])
    assert report.indexed_pages == HELD_OUT_PAGES
    yield library
    library.close()
