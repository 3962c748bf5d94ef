"""The first search stage: a USearch HNSW index over a few pooled vectors per page.

Putting every one of a page's ~770 patch vectors into HNSW would cap ingest near 2 pages/s per
core, so each page contributes the means of blocks of ``POOL_BLOCK`` x ``POOL_BLOCK`` cells (about
48 vectors for a Letter page). Each query token looks up its nearest pooled vectors; a page's
approximate score sums, over query tokens, the best similarity found on that page. The exact
MaxSim rerank then runs on the best-scoring pages only.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import numpy as np
from usearch.index import Index

from docretriever.errors import LibraryError

POOL_BLOCK = 4
# Keys are page_id * KEY_STRIDE + block number, so a page's keys can be derived from its id.
KEY_STRIDE = 1 << 12


def pool_cells(cells: np.ndarray, grid: tuple[int, int], block: int = POOL_BLOCK) -> np.ndarray:
    """Mean of each ``block`` x ``block`` square of cells, re-normalised.

    Args:
        cells: shape (n_x * n_y, dim), a page's cell rows in row-major order.
        grid: (n_x, n_y).

    Returns:
        float32, shape (ceil(n_y / block) * ceil(n_x / block), dim), unit rows, blocks in
        row-major order; edge blocks average the cells they have.
    """
    n_x, n_y = grid
    dim = cells.shape[1]
    table = cells.astype(np.float32).reshape(n_y, n_x, dim)
    pooled = []
    for y in range(0, n_y, block):
        for x in range(0, n_x, block):
            pooled.append(table[y : y + block, x : x + block].reshape(-1, dim).mean(axis=0))
    result = np.stack(pooled)
    norms = np.linalg.norm(result, axis=1, keepdims=True)
    return result / np.maximum(norms, 1e-12)


def pooled_count(grid: tuple[int, int], block: int = POOL_BLOCK) -> int:
    """Number of pooled vectors :func:`pool_cells` makes for a (n_x, n_y) grid."""
    return -(-grid[0] // block) * -(-grid[1] // block)


class CandidateIndex:
    """A USearch index of pooled page vectors, saved to ``path`` atomically."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._index = self._new()
        self.dirty = False
        # Searches (reader threads) and additions (the writer) may overlap.
        self._lock = threading.RLock()

    def _new(self) -> Index:
        return Index(ndim=self.dim, metric="ip", dtype="f16", connectivity=16)

    def load(self) -> bool:
        """Load the saved index; False (leaving it empty) when missing or unreadable."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return False
        try:
            restored = Index.restore(str(self.path))
        except Exception:
            return False
        if restored is None or restored.ndim != self.dim:
            return False
        self._index = restored
        return True

    def clear(self) -> None:
        self._index = self._new()
        self.dirty = True

    def __len__(self) -> int:
        return len(self._index)

    def add_page(self, page_id: int, cells: np.ndarray, grid: tuple[int, int]) -> None:
        """Index a page's pooled cells. ``cells``: shape (n_x * n_y, dim), row-major; ``grid``:
        (n_x, n_y). Marks the index dirty (unsaved)."""
        pooled = pool_cells(cells, grid)
        keys = page_id * KEY_STRIDE + np.arange(len(pooled), dtype=np.uint64)
        with self._lock:
            self._index.add(keys, pooled, threads=1)
            self.dirty = True

    def remove_page(self, page_id: int, grid: tuple[int, int]) -> None:
        """Remove every pooled vector of a page indexed with this (n_x, n_y) grid."""
        keys = page_id * KEY_STRIDE + np.arange(pooled_count(grid), dtype=np.uint64)
        with self._lock:
            self._index.remove(keys)
            self.dirty = True

    def approximate_scores(self, query: np.ndarray, per_token: int) -> dict[int, float]:
        """Approximate page scores from each query token's ``per_token`` nearest pooled vectors.

        ``query`` is float32, shape (n_query_tokens, dim). Returns {page_id: score}, where the
        score sums over tokens the best inner product found on that page (0 when none).
        """
        with self._lock:
            if len(self._index) == 0:
                return {}
            count = min(per_token, len(self._index))
            matches = self._index.search(np.ascontiguousarray(query, dtype=np.float32), count)
        keys = np.atleast_2d(matches.keys)
        similarities = 1.0 - np.atleast_2d(matches.distances)  # usearch "ip" distance = 1 - dot
        scores: dict[int, float] = {}
        for token_keys, token_sims in zip(keys, similarities, strict=True):
            best: dict[int, float] = {}
            for key, sim in zip(token_keys.tolist(), token_sims.tolist(), strict=True):
                page = key // KEY_STRIDE
                if sim > best.get(page, -np.inf):
                    best[page] = sim
            for page, sim in best.items():
                scores[page] = scores.get(page, 0.0) + sim
        return scores

    def save(self) -> None:
        """Write the index to a temporary file, fsync it, then rename it over the old one.

        USearch's own ``save`` writes in place; on a full disk that would leave a broken file
        where a good one was.
        """
        with self._lock:
            data = self._index.save()
        if data is None:
            raise LibraryError("The search index could not be serialised.")
        folder = self.path.parent
        try:
            fd, temporary = tempfile.mkstemp(prefix=".index-", dir=folder)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise LibraryError(
                f"Could not save the search index: {exc.strerror or exc}.", details=repr(exc)
            ) from exc
        self.dirty = False

    def memory_bytes(self) -> int:
        return int(self._index.memory_usage)
