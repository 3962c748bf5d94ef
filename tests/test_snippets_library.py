"""Text snippets end to end with the tiny model, on both back ends and through the CLI: a PDF made
here with known words at known places (one page turned a quarter, one page a picture only)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from conftest import SAMPLES, corpus_or_skip
from password_fixtures import USER_PASSWORD, encrypted_pdf
from snippet_pdf import Box, make_pdf

from docretriever.cli import main
from docretriever.documents.passwords import PasswordStore
from docretriever.library import Hit, Library, open_library


def _overlaps(box: Box, region: Box, slack: float = 2.0) -> bool:
    return (
        box[0] < region[2] + slack
        and region[0] - slack < box[2]
        and box[1] < region[3] + slack
        and region[1] - slack < box[3]
    )


def _centre_in(box: Box, region: Box) -> bool:
    x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= x <= region[2] and region[1] <= y <= region[3]


def focused(hit: Hit, point: tuple[float, float]) -> tuple[Hit, Box]:
    """``hit`` with its similarity made to peak at the one cell holding ``point`` (points of the
    displayed page), so that its best region is that cell; and the cell's box."""
    boxes = hit.geometry.cell_boxes(hit.grid, hit.page_size)
    inside = (
        (boxes[..., 0] <= point[0])
        & (point[0] < boxes[..., 2])
        & (boxes[..., 1] <= point[1])
        & (point[1] < boxes[..., 3])
    )
    cell_y, cell_x = (int(v[0]) for v in np.nonzero(inside))
    similarity = np.zeros_like(hit.similarity)
    similarity[:, cell_y, cell_x] = 1.0
    focused_hit = dataclasses.replace(hit, similarity=similarity)
    region = focused_hit.regions()[0]
    return focused_hit, (region.x0, region.y0, region.x1, region.y1)


def _library(kind: str, tmp_path: Path, tiny_embedder, **options) -> Library:
    location = str(tmp_path / "lib") if kind == "local" else f"qdrant+local://{tmp_path}/qd/pages"
    return open_library(location, embedder=tiny_embedder, **options)


@pytest.fixture(params=["local", "qdrant"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_hits_snippet_is_the_words_under_its_best_region_on_both_back_ends(
    tmp_path: Path, tiny_embedder, backend: str
) -> None:
    shown = make_pdf(tmp_path / "grid.pdf")
    with _library(backend, tmp_path, tiny_embedder) as library:
        library.add([tmp_path / "grid.pdf"])
        hits = sorted(library.search("words in a grid", k=3), key=lambda hit: hit.page)
        assert [(hit.page, hit.rotation) for hit in hits] == [(1, 0), (2, 90), (3, 0)]
        # As found: each text page's snippet is words whose boxes lie over its best region.
        for hit, snippet in zip(hits, library.snippets(hits), strict=True):
            region = hit.regions()[0]
            box = (region.x0, region.y0, region.x1, region.y1)
            if hit.page == 3:
                assert snippet is None  # a picture of text: no text layer, and no OCR
                continue
            assert snippet, hit.page
            under = {text for text, word_box in shown[hit.page].items() if _overlaps(word_box, box)}
            assert set(snippet.removesuffix("…").split()) <= under, (hit.page, snippet)
        # Focused on one chosen word of each page: that word is in the snippet, in reading order.
        targets = {1: "a30c07", 2: "b12c03"}
        for hit in hits[:2]:
            word_box = shown[hit.page][targets[hit.page]]
            focused_hit, cell = focused(
                hit, ((word_box[0] + word_box[2]) / 2, (word_box[1] + word_box[3]) / 2)
            )
            snippet = library.snippet(focused_hit)
            assert snippet is not None and targets[hit.page] in snippet.split()
            centred = [text for text, b in shown[hit.page].items() if _centre_in(b, cell)]
            assert all(text in snippet.split() for text in centred)
            assert snippet.split() == sorted(snippet.split()), "reading order: line by line, left to right"
        picture, _ = focused(hits[2], (306.0, 396.0))
        assert picture.regions() and library.snippet(picture) is None


def test_snippets_use_the_known_password_are_cached_and_never_fail_a_search(
    tmp_path: Path, tiny_embedder, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = encrypted_pdf(tmp_path / "locked.pdf", pages=1)
    make_pdf(tmp_path / "grid.pdf")
    passwords = PasswordStore(use_keyring=False)
    with _library(backend, tmp_path, tiny_embedder, passwords=passwords) as library:
        library.add([locked, tmp_path / "grid.pdf"], passwords={str(locked): USER_PASSWORD})
        (hit,) = library.search("quarterly report", k=1, within=[library.find_document(str(locked)).doc_id])
        # "Quarterly report, page 1" at 28 pt, its baseline at y 120 from x 72: the first word's centre.
        title, _ = focused(hit, (72 + pymupdf.get_text_length("Quarterly", fontsize=28) / 2, 110.0))
        assert "Quarterly" in (library.snippet(title) or "")

        calls: list[int] = []
        words = type(library.renderer).words

        def counted(pool, pages, **options):
            calls.append(len(pages))
            return words(pool, pages, **options)

        monkeypatch.setattr(type(library.renderer), "words", counted)
        hits = library.search("words", k=4)
        first = library.snippets(hits)
        assert calls == [3]  # the title page is kept already; the grid's three pages are read once
        assert library.snippets(hits) == first and calls == [3]  # kept: not read again

        # The file replaced by something that is no PDF: no snippet, no error.
        (tmp_path / "grid.pdf").write_bytes(b"not a pdf any more")
        after = dict(
            zip(
                (hit.page for hit in hits if hit.path.endswith("grid.pdf")),
                library.snippets([hit for hit in hits if hit.path.endswith("grid.pdf")]),
                strict=True,
            )
        )
        assert sorted(after) == [1, 2, 3] and set(after.values()) == {None}
        # Gone: the hits are missing and have no snippet; nothing is read.
        shutil.move(tmp_path / "grid.pdf", tmp_path / "elsewhere.pdf")
        calls.clear()
        missing = [hit for hit in library.search("words", k=4) if hit.missing]
        assert missing and library.snippets(missing) == [None] * len(missing) and calls == []


def test_search_json_has_a_snippet_for_text_pages_and_null_for_a_picture(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    (tmp_path / "docs").mkdir()
    make_pdf(tmp_path / "docs" / "grid.pdf")
    shutil.copy(corpus_or_skip(SAMPLES) / "015-arabic" / "habibi-rotated.pdf", tmp_path / "docs")
    location = str(tmp_path / "lib") if backend == "local" else f"qdrant+local://{tmp_path}/qd/pages"
    common = ["--library", location, "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*common, "add", str(tmp_path / "docs")]) == 0
    capsys.readouterr()
    assert main([*common, "search", "words", "-k", "7", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 7 and all("snippet" in hit for hit in hits)
    grid = {hit["page"]: hit["snippet"] for hit in hits if hit["path"].endswith("grid.pdf")}
    assert grid[3] is None and grid[1] and grid[2]
    assert all(len(s) <= 200 for s in grid.values() if s)
    # The text output: each snippet on a line of its own under its hit, within 100 columns.
    assert main([*common, "search", "words", "-k", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for hit in hits:
        if hit["snippet"]:
            (at,) = [i for i, line in enumerate(lines) if line.lstrip().startswith(f"{hit['rank']}. ")]
            under = lines[at + 1]
            assert under.startswith("     ") and len(under) <= 100
            assert hit["snippet"].startswith(under.strip().removesuffix("…"))
