"""Exact MaxSim against colpali-engine's reference scoring, on synthetic embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from colpali_engine.utils.processing_utils import BaseVisualRetrieverProcessor

from docretriever.search.maxsim import maxsim_score_matrix, maxsim_scores, similarity_map


def unit_rows(rng: np.random.Generator, n: int, dim: int = 128) -> np.ndarray:
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_colpali_engine_on_the_same_float16_embeddings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Pages of different lengths, stored as float16 as the library stores them.
    pages = [unit_rows(rng, int(n)).astype(np.float16) for n in rng.integers(600, 800, size=300)]
    queries = [unit_rows(rng, int(n)) for n in (12, 20, 31)]
    reference = BaseVisualRetrieverProcessor.score_multi_vector(
        [torch.from_numpy(q) for q in queries],
        [torch.from_numpy(p.astype(np.float32)) for p in pages],
        device="cpu",
    ).numpy()
    ours = np.stack([maxsim_scores(q, pages) for q in queries])
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-4)
    assert ours.shape == (3, 300)
    # All queries at once (the benchmark's ground truth) give the same scores.
    np.testing.assert_allclose(maxsim_score_matrix(queries, pages), reference, rtol=1e-5, atol=1e-4)


def test_a_page_holding_the_query_vectors_scores_highest() -> None:
    rng = np.random.default_rng(7)
    query = unit_rows(rng, 16)
    pages = [unit_rows(rng, 700) for _ in range(50)]
    pages[31][100:116] = query  # the answer page contains every query token exactly
    scores = maxsim_scores(query, pages)
    assert int(np.argmax(scores)) == 31
    assert scores[31] == pytest.approx(16.0, abs=1e-4)


def test_similarity_map_is_row_major_over_the_grid() -> None:
    rng = np.random.default_rng(3)
    grid = (24, 31)  # n_x, n_y
    cells = unit_rows(rng, grid[0] * grid[1])
    query = cells[[5 * 24 + 7, 30 * 24 + 23]]  # cells (x=7, y=5) and (x=23, y=30)
    sims = similarity_map(query, cells, grid)
    assert sims.shape == (2, 31, 24)
    assert np.unravel_index(np.argmax(sims[0]), sims[0].shape) == (5, 7)
    assert np.unravel_index(np.argmax(sims[1]), sims[1].shape) == (30, 23)


def test_similarity_map_rejects_a_wrong_grid() -> None:
    with pytest.raises(ValueError):
        similarity_map(np.ones((2, 128), np.float32), np.ones((10, 128), np.float32), (3, 3))
