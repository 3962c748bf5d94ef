"""Summarising a page's cell vectors by a few centroids, and the int8 form they are kept in.

A page has ~770 cell vectors, many of them near-duplicates (blank margins, a repeated word).
Spherical k-means collapses those while distinct content keeps a centroid of its own; the
centroids are what the first two search stages see of a page.
"""

from __future__ import annotations

import numpy as np

# Centroids kept per page. Measured on the synthetic benchmark corpus: ranking pages by MaxSim
# over 96 centroids put 98.8 % of the exact top 10 within its top 32 at 100,000 pages (99.4 % at
# 10,000); with 48 centroids, 94.5 % at 2,000 pages.
PAGE_CENTROIDS = 96
_PAGE_KMEANS_ROUNDS = 5
# int8 storage: unit vectors scaled to [-127, 127].
INT8_SCALE = 127.0


def pool_cells(cells: np.ndarray, count: int = PAGE_CENTROIDS) -> np.ndarray:
    """Centroids of a page's cell vectors by spherical k-means.

    Args:
        cells: shape (n_cells, dim), unit rows (a page's image-cell rows).
        count: centroids wanted.

    Returns:
        float32, shape (min(count, n_cells), dim), unit rows. Deterministic: seeded by
        farthest-point sampling (the most distinct cells first), then a few k-means rounds.
    """
    vectors = np.ascontiguousarray(cells, dtype=np.float32)
    count = min(count, len(vectors))
    chosen = [0]
    closest = vectors @ vectors[0]
    for _ in range(1, count):
        farthest = int(np.argmin(closest))
        chosen.append(farthest)
        closest = np.maximum(closest, vectors @ vectors[farthest])
    return refine_centroids(vectors, vectors[chosen].copy(), _PAGE_KMEANS_ROUNDS)


def refine_centroids(vectors: np.ndarray, centroids: np.ndarray, rounds: int) -> np.ndarray:
    """Spherical k-means rounds: assign each row to its most similar centroid, then move each
    centroid to the normalised sum of its rows (a centroid left empty stays where it was).

    Args:
        vectors: float32, shape (n, dim), unit rows.
        centroids: float32, shape (k, dim), unit rows; updated in place and returned.
        rounds: how many rounds.
    """
    # Assign in slices so that the similarity matrix stays under ~64 MiB.
    step = max(1, (1 << 24) // max(1, len(centroids)))
    assignment = np.empty(len(vectors), dtype=np.int64)
    for _ in range(rounds):
        for start in range(0, len(vectors), step):
            assignment[start : start + step] = np.argmax(vectors[start : start + step] @ centroids.T, axis=1)
        # Sums per centroid over the rows sorted by centroid: np.add.at, the obvious way, is
        # unbuffered and took 25 ms of a page's pooling here, against under 1 ms for this.
        counts = np.bincount(assignment, minlength=len(centroids))
        filled = np.flatnonzero(counts)
        starts = (np.cumsum(counts) - counts)[filled]
        sums = np.add.reduceat(vectors[np.argsort(assignment, kind="stable")], starts, axis=0)
        norms = np.linalg.norm(sums, axis=1)
        moved = norms > 0
        centroids[filled[moved]] = sums[moved] / norms[moved, None]
    return centroids


def to_int8(vectors: np.ndarray) -> np.ndarray:
    """Unit float rows, shape (n, dim), as int8 in [-127, 127]."""
    return np.clip(np.rint(vectors * INT8_SCALE), -127, 127).astype(np.int8)


def from_int8(vectors: np.ndarray) -> np.ndarray:
    """int8 rows from :func:`to_int8` back to float32 (approximately unit) rows."""
    return vectors.astype(np.float32) / INT8_SCALE
