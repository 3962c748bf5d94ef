"""Tier three: a real ColQwen2 checkpoint, opt-in.

Run with ``DOCRETRIEVER_REAL_MODEL=<folder or Hub id> pytest -m real_model``. Skipped otherwise:
no real weights exist on CI machines and no test may download them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip

from docretriever.embedding import ModelSpec
from docretriever.library import open_library

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def real_model() -> str:
    source = os.environ.get("DOCRETRIEVER_REAL_MODEL")
    if not source:
        pytest.skip("set DOCRETRIEVER_REAL_MODEL to a ColQwen2 folder or Hub id to run")
    return source


def test_a_real_checkpoint_finds_the_page_that_shows_the_query(tmp_path: Path, real_model: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for relative in ("015-arabic/habibi.pdf", "022-pdfkit/pdfkit.pdf", "021-pdfa/crazyones-pdfa.pdf"):
        shutil.copy(corpus_or_skip(SAMPLES) / relative, docs)
    library = open_library(tmp_path / "lib", ModelSpec(real_model, visual_tokens=768))
    library.add([docs])
    hits = library.search("Here's to the crazy ones, the misfits, the rebels", k=3)
    assert Path(hits[0].path).name == "crazyones-pdfa.pdf"
    assert hits[0].regions()  # the matched text is highlighted somewhere on the page
