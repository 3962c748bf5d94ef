"""The first two search stages: page centroids, the shared codebook and its inverted lists."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from docretriever.search import candidates
from docretriever.search.candidates import CandidateIndex
from docretriever.search.codebook import Codebook, codebook_size, train_codes
from docretriever.search.pooling import pool_cells, to_int8
from docretriever.search.postings import InvertedLists


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
    assert pooled.shape == (64, 128)
    np.testing.assert_allclose(np.linalg.norm(pooled, axis=1), 1.0, rtol=1e-5)
    best = (np.concatenate([words, margin[None]]) @ pooled.T).max(axis=1)
    assert best.min() > 0.98  # the margin and all 60 words are each kept almost exactly
    assert np.array_equal(pool_cells(cells, count=64), pooled)  # deterministic


def test_the_codebook_grows_with_the_square_root_of_the_library() -> None:
    assert codebook_size(10) == 256  # the floor
    assert codebook_size(960_000) == 4096 and codebook_size(9_600_000) == 16_384
    assert codebook_size(10**12) == 1 << 16  # the ceiling


def test_codes_are_trained_on_the_sample_and_found_by_usearch() -> None:
    rng = np.random.default_rng(2)
    centres = unit_rows(rng, 32)
    sample = centres[rng.integers(32, size=2000)] + 0.05 * rng.normal(size=(2000, 128)) / np.sqrt(128)
    sample = (sample / np.linalg.norm(sample, axis=1, keepdims=True)).astype(np.float32)
    codes = train_codes(sample, 64)
    assert codes.shape == (64, 128) and np.array_equal(codes, train_codes(sample, 64))
    assert ((centres @ codes.T).max(axis=1) > 0.99).all()  # every cluster has a code on it
    codebook = Codebook(codes)
    found, similarities = codebook.nearest(centres, 4)
    exact = np.argsort(-(centres @ codes.T), axis=1)[:, :4]
    assert (found[:, 0] == exact[:, 0]).all()
    assert (np.diff(similarities, axis=1) <= 1e-6).all()  # most similar first
    restored = Codebook.restore(codes, codebook.serialise())
    assert np.array_equal(restored.assign(centres), codebook.assign(centres))
    assert (codebook.assign(centres[:1]) == exact[:1, 0]).all()  # a single row too


def brute_force_scores(filed: dict[int, set[int]], codes: np.ndarray, sims: np.ndarray, n: int) -> np.ndarray:
    total = np.zeros(n, dtype=np.float32)
    for token_codes, token_sims in zip(codes, sims, strict=True):
        for slot in range(n):
            hits = [s for c, s in zip(token_codes, token_sims, strict=True) if c in filed.get(slot, set())]
            total[slot] += max(hits, default=token_sims[-1])
    return total


def test_inverted_list_scores_equal_a_brute_force_count_however_they_were_built() -> None:
    rng = np.random.default_rng(3)
    lists = InvertedLists(50)
    filed: dict[int, set[int]] = {}
    codes = np.stack([rng.choice(50, 6, replace=False) for _ in range(5)])
    sims = -np.sort(-rng.random((5, 6)).astype(np.float32), axis=1)
    for slot in range(300):
        page_codes = rng.integers(50, size=rng.integers(1, 12))
        lists.add(slot, page_codes)
        filed[slot] = set(page_codes.tolist())
        if slot in (0, 7, 40, 41, 299):  # searches between additions: recent and merged parts
            np.testing.assert_allclose(
                lists.scores(codes, sims, slot + 1),
                brute_force_scores(filed, codes, sims, slot + 1),
                rtol=1e-6,
            )
    assert len(lists) == sum(len(c) for c in filed.values())
    keep = np.where(np.arange(300) % 3 == 0, np.arange(300) // 3, -1)  # drop two slots in three
    renumbered = InvertedLists(50, *lists.renumbered(keep).arrays())
    expected = {int(keep[s]): c for s, c in filed.items() if keep[s] >= 0}
    np.testing.assert_allclose(
        renumbered.scores(codes, sims, 100), brute_force_scores(expected, codes, sims, 100), rtol=1e-6
    )


def clustered_page(rng: np.random.Generator, margin: np.ndarray, topic: np.ndarray) -> np.ndarray:
    """Like real patch embeddings: near-identical margin cells, one block about the page's topic."""
    cells = margin + 0.3 * rng.normal(size=(31, 24, 128)) / np.sqrt(128)
    cells[4:8, 8:12] = topic + 0.5 * rng.normal(size=(4, 4, 128)) / np.sqrt(128)
    cells = cells.reshape(-1, 128).astype(np.float32)
    return cells / np.linalg.norm(cells, axis=1, keepdims=True)


@pytest.fixture
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(candidates, "CODEBOOK_MIN_PAGES", 20)
    monkeypatch.setattr(candidates, "RETRAIN_GROWTH", 4)


def test_stage_one_finds_the_page_holding_the_query_and_survives_a_save(
    tmp_path: Path, small_thresholds: None
) -> None:
    rng = np.random.default_rng(0)
    grid = (24, 31)
    margin = unit_rows(rng, 1)[0]
    topics = unit_rows(rng, 201)
    index = CandidateIndex(tmp_path / "index.usearch", 128)
    for page_id in range(1, 201):
        index.add_page(page_id, clustered_page(rng, margin, topics[page_id]), grid)
        if page_id == 20:
            assert index.codebook_size == 0  # still small enough for stage two alone
        if page_id == 21:
            assert index.codebook_size > 0
    assert index._trained_pages == 84  # trained at 21 pages, then again at 4 x 21
    # Query tokens near page 123's topic find that page first.
    block = topics[123] + 0.5 * rng.normal(size=(12, 128)).astype(np.float32) / np.sqrt(128)
    surveyed = index.survey(block, 10)
    assert surveyed[0] == 123 and len(surveyed) == 10
    index.remove_page(7)
    index.save()
    reloaded = CandidateIndex(tmp_path / "index.usearch", 128)
    assert reloaded.load() and len(reloaded) == len(index) == 199 and not reloaded.dirty
    assert reloaded.codebook_size == index.codebook_size
    assert reloaded.survey(block, 200) == index.survey(block, 200)
    assert 7 not in reloaded.survey(block, 200)
    reloaded.remove_page(123)
    assert 123 not in reloaded.survey(block, 200) and len(reloaded.survey(block, 500)) == 198
    pages = list(range(1, 201))
    np.testing.assert_array_equal(reloaded.pooled_scores(block, pages)[[6, 122]], [-np.inf, -np.inf])


def test_a_version_1_index_file_is_migrated_without_the_vectors(
    tmp_path: Path, small_thresholds: None
) -> None:
    rng = np.random.default_rng(4)
    margin, topics = unit_rows(rng, 1)[0], unit_rows(rng, 61)
    pages = {page_id: clustered_page(rng, margin, topics[page_id]) for page_id in range(1, 61)}
    pooled = {page_id: to_int8(pool_cells(cells)) for page_id, cells in pages.items()}
    body = io.BytesIO()
    np.savez(
        body,
        page_ids=np.array(list(pooled)),
        counts=np.array([len(p) for p in pooled.values()]),
        rows=np.concatenate(list(pooled.values())),
    )
    graph = b"an old HNSW graph of other centroids"
    path = tmp_path / "index.usearch"
    path.write_bytes(b"DOCRETRIEVER-INDEX-1\n" + len(graph).to_bytes(8, "little") + graph + body.getvalue())
    migrated = CandidateIndex(path, 128)
    assert migrated.load() and migrated.dirty and migrated.codebook_size > 0
    fresh = CandidateIndex(tmp_path / "fresh.usearch", 128)
    for page_id, cells in pages.items():
        fresh.add_page(page_id, cells, (24, 31))
    block = topics[30] + 0.5 * rng.normal(size=(12, 128)).astype(np.float32) / np.sqrt(128)
    assert migrated.survey(block, 60) == fresh.survey(block, 60)  # as if ingested again
    assert migrated.survey(block, 1) == [30]


def test_unreadable_index_files_are_reported_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "index.usearch"
    for content in (b"", b"garbage" * 100, b"DOCRETRIEVER-INDEX-2\n" + b"\0" * 100):
        path.write_bytes(content)
        index = CandidateIndex(path, 128)
        assert not index.load() and len(index) == 0
