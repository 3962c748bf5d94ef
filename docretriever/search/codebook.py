"""The shared codebook of the first search stage, and its inverted lists.

The codebook is a few thousand directions (spherical k-means over page centroids of the whole
library). Each page is filed under the codes nearest to its centroids; a query token then
reaches, through its few nearest codes, *every* page holding something close to it, however
many there are (PLAID's candidate generation). A top-k nearest-neighbour lookup per token, by
contrast, samples an ever smaller share of those pages as the library grows: at 100,000 pages
it found only 78.6 % of the exact top 10.

USearch (HNSW over the codes) finds a token's nearest codes and files each new page's centroids.
"""

from __future__ import annotations

import math

import numpy as np
from usearch.index import BatchMatches, Index

from docretriever.search.pooling import refine_centroids

# Codes for a library of n centroids: a power of two near CODES_PER_ROOT * sqrt(n), so that the
# inverted lists grow with the library only as its square root. 16,384 codes at 100,000 pages.
CODES_PER_ROOT = 4
MIN_CODES, MAX_CODES = 256, 1 << 16
_TRAINING_ROWS_PER_CODE = 16
_TRAINING_ROUNDS = 4
_CONNECTIVITY = 16


def codebook_size(centroids: int) -> int:
    """Codes to train for a library holding ``centroids`` page centroids."""
    wanted = CODES_PER_ROOT * math.sqrt(max(1, centroids))
    return int(np.clip(2 ** round(math.log2(wanted)), MIN_CODES, MAX_CODES))


def train_codes(sample: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Spherical k-means codes for ``sample``.

    Args:
        sample: float32, shape (n, dim), unit rows (page centroids; at most
            ``_TRAINING_ROWS_PER_CODE * size`` of them are used, chosen at random).
        size: codes wanted; fewer when the sample is smaller.
        seed: makes the result deterministic.

    Returns:
        float32, shape (min(size, n), dim), unit rows.
    """
    rng = np.random.default_rng(seed)
    if len(sample) > _TRAINING_ROWS_PER_CODE * size:
        sample = sample[np.sort(rng.choice(len(sample), _TRAINING_ROWS_PER_CODE * size, replace=False))]
    vectors = np.ascontiguousarray(sample, dtype=np.float32)
    size = min(size, len(vectors))
    seeds = vectors[np.sort(rng.choice(len(vectors), size, replace=False))].copy()
    return refine_centroids(vectors, seeds, _TRAINING_ROUNDS)


class Codebook:
    """Unit code vectors, shape (n_codes, dim), searchable by inner product through USearch."""

    def __init__(self, codes: np.ndarray, index: Index | None = None) -> None:
        self.codes = np.ascontiguousarray(codes, dtype=np.float32)
        if index is None:
            index = Index(
                ndim=self.codes.shape[1],
                metric="ip",
                dtype="f32",
                connectivity=_CONNECTIVITY,
            )
            # One thread: a graph built in parallel depends on timing, and so would every search.
            index.add(np.arange(len(self.codes), dtype=np.uint64), self.codes, threads=1)
        self._index = index

    def __len__(self) -> int:
        return len(self.codes)

    def serialise(self) -> bytes:
        """USearch's serialised HNSW graph (the codes are saved separately, as an array)."""
        data = self._index.save()
        if data is None:
            raise RuntimeError("USearch could not serialise the codebook")
        return bytes(data)

    @classmethod
    def restore(cls, codes: np.ndarray, serialised: bytes) -> Codebook:
        index = Index.restore(serialised)
        if index is None or len(index) != len(codes) or index.ndim != codes.shape[1]:
            raise ValueError("the saved codebook graph does not match its codes")
        return cls(codes, index)

    def nearest(self, vectors: np.ndarray, count: int, *, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Each row's ``count`` nearest codes, most similar first.

        Args:
            vectors: float32, shape (n, dim), unit rows.
            count: codes per row (at most the codebook's size).
            threads: USearch threads; 0 for all cores.

        Returns:
            (codes int64 (n, count), similarities float32 (n, count)); a row that found fewer
            codes is padded with its last code and similarity.
        """
        count = min(count, len(self.codes))
        matches = self._index.search(np.atleast_2d(vectors).astype(np.float32), count, threads=threads)
        if isinstance(matches, BatchMatches):
            keys, distances, counts = matches.keys, matches.distances, matches.counts
        else:  # USearch answers a one-row batch with a single result
            keys, distances = matches.keys[None], matches.distances[None]
            counts = np.array([len(matches.keys)])
        codes = keys.astype(np.int64)
        similarities = (1.0 - distances).astype(np.float32)
        short = counts < count
        for row in np.flatnonzero(short):
            found = max(1, int(counts[row]))
            codes[row, found:] = codes[row, found - 1]
            similarities[row, found:] = similarities[row, found - 1]
        return codes, similarities

    def assign(self, vectors: np.ndarray, threads: int = 1) -> np.ndarray:
        """The nearest code of each row of ``vectors`` (float32, shape (n, dim)): int64 (n,)."""
        return self.nearest(vectors, 1, threads=threads)[0][:, 0]
