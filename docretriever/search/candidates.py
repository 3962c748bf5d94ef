"""The first search stages: a few pooled vectors per page, in USearch and in memory.

Putting every one of a page's ~770 patch vectors into HNSW would cap ingest near 2 pages/s per
core, so pages are summarised by centroids of their cells (spherical k-means): repeated words
and blank margins collapse into one vector each while distinct content keeps its own. Stage one
looks up each query token's nearest centroids among ``SEARCH_CENTROIDS`` per page in HNSW, which
only has to find the right pages; stage two ranks the pages found by MaxSim over a finer
``RANKING_CENTROIDS`` per page kept in RAM as int8; the exact rerank runs on the best of those.
Measured on the synthetic benchmark corpus (2,000 pages): with 96 ranking centroids the exact
top 10 were always within the stage-two top 32; with 48, 94.5 % were.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from usearch.index import BatchMatches, Index

from docretriever.errors import LibraryError, describe_os_error

SEARCH_CENTROIDS = 48
RANKING_CENTROIDS = 96
# HNSW links per node: 8 halves the graph's RAM against 16; stage one only needs the right
# pages among its few hundred, not each token's exact nearest centroid.
CONNECTIVITY = 8
_KMEANS_ROUNDS = 5
# Keys are page_id * KEY_STRIDE + centroid number, so a page's keys can be derived from its id.
KEY_STRIDE = 1 << 12
_MAGIC = b"DOCRETRIEVER-INDEX-1\n"
_TEMPORARY_PREFIX = ".index-"
# int8 storage: unit vectors scaled to [-127, 127].
_INT8_SCALE = 127.0


def pool_cells(cells: np.ndarray, count: int = SEARCH_CENTROIDS) -> np.ndarray:
    """Centroids of a page's cell vectors by spherical k-means.

    Args:
        cells: shape (n_cells, dim), unit rows (a page's image-cell rows).
        count: centroids wanted.

    Returns:
        float32, shape (min(count, n_cells), dim), unit rows. Deterministic: seeded by
        farthest-point sampling (the most distinct cells first), then ``_KMEANS_ROUNDS`` rounds.
    """
    vectors = np.ascontiguousarray(cells, dtype=np.float32)
    count = min(count, len(vectors))
    chosen = [0]
    closest = vectors @ vectors[0]
    for _ in range(1, count):
        farthest = int(np.argmin(closest))
        chosen.append(farthest)
        closest = np.maximum(closest, vectors @ vectors[farthest])
    centroids = vectors[chosen].copy()
    for _ in range(_KMEANS_ROUNDS):
        assignment = np.argmax(vectors @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assignment, vectors)
        filled = np.bincount(assignment, minlength=count) > 0
        norms = np.linalg.norm(sums[filled], axis=1, keepdims=True)
        centroids[filled] = sums[filled] / np.maximum(norms, 1e-12)
    return centroids


def pooled_count(grid: tuple[int, int], count: int = SEARCH_CENTROIDS) -> int:
    """Number of pooled vectors :func:`pool_cells` makes for a (n_x, n_y) grid."""
    return min(count, grid[0] * grid[1])


def _to_int8(vectors: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(vectors * _INT8_SCALE), -127, 127).astype(np.int8)


class CandidateIndex:
    """A USearch index of pooled page vectors, saved to ``path`` atomically."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._index = self._new()
        self._pooled: dict[int, np.ndarray] = {}  # page id -> int8 ranking centroids (n, dim)
        self.dirty = False
        # Searches (reader threads) and additions (the writer) may overlap.
        self._lock = threading.RLock()

    def _new(self) -> Index:
        return Index(ndim=self.dim, metric="ip", dtype="i8", connectivity=CONNECTIVITY)

    def load(self) -> bool:
        """Load the saved index; False (leaving it empty) when missing or unreadable.

        The file holds ``_MAGIC``, the length of USearch's serialised index (8 bytes, little
        endian), that index, then the ranking centroids as an .npz (page ids, counts, rows).
        """
        try:
            data = self.path.read_bytes()
            if not data.startswith(_MAGIC):
                return False
            start = len(_MAGIC) + 8
            length = int.from_bytes(data[len(_MAGIC) : start], "little")
            restored = Index.restore(data[start : start + length])
            with np.load(io.BytesIO(data[start + length :]), allow_pickle=False) as arrays:
                page_ids, counts, rows = arrays["page_ids"], arrays["counts"], arrays["rows"]
        except Exception:  # missing, truncated, garbage: the caller rebuilds from the vectors
            return False
        if restored is None or restored.ndim != self.dim or rows.ndim != 2 or rows.shape[1] != self.dim:
            return False
        offsets = np.r_[0, np.cumsum(counts)]
        self._index = restored
        self._pooled = {int(p): rows[offsets[i] : offsets[i + 1]] for i, p in enumerate(page_ids)}
        return True

    def clear(self) -> None:
        self._index = self._new()
        self._pooled = {}
        self.dirty = True

    def __len__(self) -> int:
        return len(self._index)

    def add_page(self, page_id: int, cells: np.ndarray, grid: tuple[int, int]) -> None:
        """Index a page's centroids. ``cells``: shape (n_x * n_y, dim), the page's cell rows;
        ``grid``: (n_x, n_y). Adding a page already held does nothing. Marks the index dirty."""
        with self._lock:
            if page_id in self._pooled:
                return  # a reader's reconciliation may have added it between commit and here
        searched = _to_int8(pool_cells(cells, SEARCH_CENTROIDS))
        ranking = _to_int8(pool_cells(cells, RANKING_CENTROIDS))
        keys = page_id * KEY_STRIDE + np.arange(len(searched), dtype=np.uint64)
        with self._lock:
            if page_id in self._pooled:
                return
            self._index.add(keys, searched, threads=1)
            self._pooled[page_id] = ranking
            self.dirty = True

    def page_ids(self) -> set[int]:
        """The pages this index holds."""
        with self._lock:
            return set(self._pooled)

    def remove_page(self, page_id: int) -> None:
        """Remove every centroid of a page (absent keys are ignored)."""
        keys = page_id * KEY_STRIDE + np.arange(SEARCH_CENTROIDS, dtype=np.uint64)
        with self._lock:
            self._index.remove(keys)
            self._pooled.pop(page_id, None)
            self.dirty = True

    def approximate_scores(self, query: np.ndarray, per_token: int) -> dict[int, float]:
        """Approximate page scores from each query token's ``per_token`` nearest pooled vectors.

        ``query`` is float32, shape (n_query_tokens, dim). Returns {page_id: score}, where the
        score sums, over the tokens that found the page, the best inner product found there, in
        USearch's int8 units (127² times the dot product of unit vectors).
        """
        with self._lock:
            if len(self._index) == 0:
                return {}
            count = min(per_token, len(self._index))
            matches = self._index.search(np.atleast_2d(query).astype(np.float32), count)
        if not isinstance(matches, BatchMatches):  # a 2-D query always gives a batch
            raise TypeError(f"unexpected USearch result {type(matches).__name__}")
        keys = matches.keys
        # "ip" distance is 1 - dot (on int8-scaled vectors: only the order matters here).
        similarities = 1.0 - matches.distances.astype(np.float64)
        # Rows are padded when HNSW finds fewer than asked for.
        found = np.arange(keys.shape[1]) < matches.counts[:, None]
        tokens = np.broadcast_to(np.arange(len(keys))[:, None], keys.shape)[found]
        pages = (keys[found] // KEY_STRIDE).astype(np.int64)
        similarities = similarities[found]
        # Each token counts once per page, with its best centroid there.
        best_first = np.argsort(-similarities, kind="stable")
        pairs = tokens[best_first] * (int(pages.max(initial=0)) + 1) + pages[best_first]
        _, first = np.unique(pairs, return_index=True)
        chosen = best_first[first]
        page_ids, slot = np.unique(pages[chosen], return_inverse=True)
        totals = np.bincount(slot, weights=similarities[chosen], minlength=len(page_ids))
        return dict(zip(page_ids.tolist(), totals.tolist(), strict=True))

    def pooled_scores(self, query: np.ndarray, page_ids: Sequence[int]) -> np.ndarray:
        """MaxSim of the query against each page's centroids (the second stage).

        ``query`` is float32 (n_tokens, dim). Returns float32 (len(page_ids),); a page missing
        from the index scores -inf.
        """
        with self._lock:
            pooled = [self._pooled.get(page_id) for page_id in page_ids]
        present = [i for i, p in enumerate(pooled) if p is not None]
        scores = np.full(len(page_ids), -np.inf, dtype=np.float32)
        if not present:
            return scores
        lengths = np.array([len(pooled[i]) for i in present])  # type: ignore[arg-type]
        matrix = np.concatenate([pooled[i] for i in present]).astype(np.float32)
        similarities = (np.ascontiguousarray(query, dtype=np.float32) / _INT8_SCALE) @ matrix.T
        offsets = np.r_[0, np.cumsum(lengths)[:-1]]
        scores[present] = np.maximum.reduceat(similarities, offsets, axis=1).sum(axis=0)
        return scores

    def remove_leftovers(self) -> None:
        """Delete the temporary files of saves a crash interrupted. Only the writer may call
        this: another process's save in progress would lose its file."""
        for leftover in self.path.parent.glob(_TEMPORARY_PREFIX + "*"):
            leftover.unlink(missing_ok=True)

    def save(self) -> None:
        """Write the index to a temporary file, fsync it, then rename it over the old one.

        USearch's own ``save`` writes in place; on a full disk that would leave a broken file
        where a good one was. See :meth:`load` for the layout.
        """
        with self._lock:
            serialised = self._index.save()
            page_ids = np.fromiter(self._pooled, dtype=np.int64, count=len(self._pooled))
            counts = np.array([len(self._pooled[int(p)]) for p in page_ids], dtype=np.int64)
            rows = (
                np.concatenate([self._pooled[int(p)] for p in page_ids])
                if len(page_ids)
                else np.zeros((0, self.dim), dtype=np.int8)
            )
        if serialised is None:
            raise LibraryError("The search index could not be serialised.")
        centroids = io.BytesIO()
        np.savez(centroids, page_ids=page_ids, counts=counts, rows=rows)
        data = b"".join(
            [_MAGIC, len(serialised).to_bytes(8, "little"), bytes(serialised), centroids.getvalue()]
        )
        folder = self.path.parent
        try:
            fd, temporary = tempfile.mkstemp(prefix=_TEMPORARY_PREFIX, dir=folder)
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
                f"Could not save the search index: {describe_os_error(exc)}.", details=repr(exc)
            ) from exc
        self.dirty = False
