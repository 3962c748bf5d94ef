"""The first search stage: pooled page vectors in USearch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from docretriever.search.candidates import CandidateIndex, pool_cells, pooled_count


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = rng.normal(size=(n, 128)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_pooling_gives_every_distinct_content_its_own_centroid() -> None:
    rng = np.random.default_rng(1)
    words = unit_rows(rng, 60)  # more distinct words than a plain average could keep apart
    margin = unit_rows(rng, 1)[0]
    cells = np.concatenate([np.repeat(margin[None], 300, axis=0), np.repeat(words, 7, axis=0)])
    cells = cells + 0.01 * rng.normal(size=cells.shape)
    cells = (cells / np.linalg.norm(cells, axis=1, keepdims=True)).astype(np.float32)
    pooled = pool_cells(cells, count=64)
    assert pooled.shape == (64, 128) == (pooled_count((24, 30), 64), 128)
    np.testing.assert_allclose(np.linalg.norm(pooled, axis=1), 1.0, rtol=1e-5)
    best = (np.concatenate([words, margin[None]]) @ pooled.T).max(axis=1)
    assert best.min() > 0.98  # the margin and all 60 words are each kept almost exactly
    assert np.array_equal(pool_cells(cells, count=64), pooled)  # deterministic


def clustered_page(rng: np.random.Generator, margin: np.ndarray, topic: np.ndarray) -> np.ndarray:
    """Like real patch embeddings: near-identical margin cells, one block about the page's topic."""
    cells = margin + 0.3 * rng.normal(size=(31, 24, 128)) / np.sqrt(128)
    cells[4:8, 8:12] = topic + 0.5 * rng.normal(size=(4, 4, 128)) / np.sqrt(128)
    cells = cells.reshape(-1, 128).astype(np.float32)
    return cells / np.linalg.norm(cells, axis=1, keepdims=True)


def test_the_page_holding_the_query_ranks_first_and_survives_a_save(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    grid = (24, 31)
    margin = unit_rows(rng, 1)[0]
    topics = unit_rows(rng, 201)
    index = CandidateIndex(tmp_path / "index.usearch", 128)
    for page_id in range(1, 201):
        index.add_page(page_id, clustered_page(rng, margin, topics[page_id]), grid)
    # Query tokens near page 123's topic find that page first.
    block = topics[123] + 0.5 * rng.normal(size=(12, 128)).astype(np.float32) / np.sqrt(128)
    scores = index.approximate_scores(block, per_token=32)
    assert max(scores, key=scores.__getitem__) == 123
    index.save()
    reloaded = CandidateIndex(tmp_path / "index.usearch", 128)
    assert reloaded.load() and len(reloaded) == len(index) == 200 * pooled_count(grid)
    assert reloaded.approximate_scores(block, 32) == scores
    reloaded.remove_page(123)
    assert 123 not in reloaded.approximate_scores(block, 32)


def test_unreadable_index_files_are_reported_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "index.usearch"
    for content in (b"", b"garbage" * 100):
        path.write_bytes(content)
        assert not CandidateIndex(path, 128).load()
