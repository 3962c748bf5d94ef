"""Retrieval that can fail: the trained tiny reading model finds held-out pages and the words on them.

The model (models/tiny-reader, trained by docretriever/testing/train_reader.py) never saw these
pages. Each query is one key word printed on exactly one of 200 pages (chance recall@1: 0.005).
Half the pages are turned by /Rotate 90/180/270. The same checks run through the library, the
CLI's ``search --json`` and (tests/test_ui_learned_search.py) the GUI's session; the negative
controls show each check failing on the bug class it guards against.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from learned_fixtures import HELD_OUT_PAGES

from docretriever.testing.reading_eval import ReadingQuality, hit_answer, measure, scrambled_rows

pytestmark = pytest.mark.learned_model

# Measured on the held-out pages (see models/tiny-reader/manifest.json for the figures), with
# a margin below them for run-to-run noise in float32 sums; never measured on training pages.
MIN_RECALL_AT_1 = 0.9
MIN_IOU_RATE = 0.8


def _library_quality(library, pairs) -> ReadingQuality:
    return measure(pairs, lambda word: hit_answer(library.search(word, k=1)))


def test_single_word_queries_find_their_page(reader_library, held_out_pages) -> None:
    quality = _library_quality(reader_library, held_out_pages)
    assert quality.queries == HELD_OUT_PAGES
    assert quality.recall_at_1 >= MIN_RECALL_AT_1, quality


@pytest.mark.parametrize("upright", [True, False], ids=["upright", "rotated"])
def test_the_best_region_lands_on_the_word(reader_library, held_out_pages, upright: bool) -> None:
    chosen = [(p, w) for p, w in held_out_pages if (p.rotation == 0) == upright]
    assert len(chosen) >= 60 and (upright or {p.rotation for p, _ in chosen} == {90, 180, 270})
    right_page = {w: number for number, (_, w) in enumerate(held_out_pages, start=1)}

    def top_hit(word: str):
        hits = reader_library.search(word, k=1)
        # measure() numbers the chosen pages 1.. in their own order; map the library's page.
        if not hits or hits[0].page != right_page[word]:
            return None
        return [p for p, w in chosen].index(next(p for p, w in chosen if w == word)) + 1, hits[0].regions()

    quality = measure(chosen, top_hit)
    assert quality.right_hits >= 0.8 * len(chosen)
    assert quality.iou_rate >= MIN_IOU_RATE, quality


def test_cli_search_json_regions_are_on_the_word(
    reader_dir: Path, held_out_pdf: Path, held_out_pages, tmp_path: Path, capsys
) -> None:
    from docretriever.cli import main

    common = ["--library", str(tmp_path / "lib"), "--model", str(reader_dir), "--device", "cpu"]
    assert main([*common, "--visual-tokens", "128", "add", str(held_out_pdf)]) == 0
    capsys.readouterr()
    sample = held_out_pages[::5]  # 40 queries keep the CLI's start-up cost down

    def top_hit(word: str):
        assert main([*common, "--visual-tokens", "128", "search", word, "-k", "1", "--json"]) == 0
        hits = json.loads(capsys.readouterr().out)
        return (hits[0]["page"], hits[0]["regions"]) if hits else None

    numbers = {w: n for n, (_, w) in enumerate(held_out_pages, start=1)}
    quality = measure(sample, lambda word: _renumbered(top_hit(word), numbers[word], sample, word))
    assert quality.recall_at_1 >= MIN_RECALL_AT_1, quality
    assert quality.iou_rate >= MIN_IOU_RATE, quality


def _renumbered(found, library_page: int, sample, word: str):
    """A hit on the word's page in the whole PDF, numbered as ``sample`` numbers its pages."""
    if found is None or found[0] != library_page:
        return None
    return [w for _, w in sample].index(word) + 1, found[1]


# --- negative controls: each check fails on the bug class it guards against -------------------


def test_a_scrambled_cell_grid_misses_the_words(reader_library, held_out_pages) -> None:
    """Cells read in the wrong order (a transposed grid, rows stored out of order): the pages
    are still found, but the highlights leave the words."""
    right = measure(held_out_pages, lambda w: hit_answer(reader_library.search(w, k=1)))
    scrambled = measure(
        held_out_pages,
        lambda w: hit_answer([scrambled_rows(h) for h in reader_library.search(w, k=1)]),
    )
    assert scrambled.recall_at_1 == right.recall_at_1
    assert scrambled.iou_rate <= right.iou_rate / 3, (right, scrambled)
    assert scrambled.iou_rate < MIN_IOU_RATE


def test_random_weights_do_not_find_the_pages(held_out_pdf: Path, held_out_pages, tmp_path: Path) -> None:
    """The same model untrained (an adapter that silently failed to load reads like this)."""
    from docretriever.embedding import ModelSpec
    from docretriever.library import open_library
    from docretriever.testing.train_reader import build_reader, save

    untrained = tmp_path / "untrained"
    save(*build_reader(seed=0), untrained)
    library = open_library(tmp_path / "lib", ModelSpec(str(untrained), device="cpu", visual_tokens=128))
    try:
        library.add([held_out_pdf])
        quality = _library_quality(library, held_out_pages)
    finally:
        library.close()
    assert quality.recall_at_1 <= MIN_RECALL_AT_1 / 3, quality


def test_queries_without_the_prefix(reader_dir: Path, reader_library, held_out_pages) -> None:
    """The model was trained with "Query: " before every query, as the real checkpoints were.
    Dropping it must cost recall: the check that the prefix reaches the model."""
    from docretriever.embedding import ModelSpec, load_embedder

    bare = load_embedder(ModelSpec(str(reader_dir), device="cpu", query_prefix=""))
    with_prefix = _library_quality(reader_library, held_out_pages)
    without = measure(
        held_out_pages,
        lambda w: hit_answer(reader_library.search_embedding(bare.embed_queries([w])[0], k=1)),
    )
    assert without.recall_at_1 < with_prefix.recall_at_1, (with_prefix, without)
