"""A synthetic corpus shaped like ColQwen2 page embeddings, for search tests and benchmarks.

Pages have 24 x 32 cells (ColQwen2's default budget of 768) of 128-dim unit vectors plus 13
prompt rows, clustered as real patch embeddings are: near-identical blank-margin cells, and text
cells drawn from a per-document vocabulary of "word" directions. Queries have 20 tokens: 12
words of a target page (with noise) and 8 augmentation-like tokens. Deterministic: page i
depends only on (seed, i).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from docretriever.documents import PageInfo
from docretriever.embedding.base import ModelIdentity, PageEmbedding, PreparedPages, QueryEmbedding
from docretriever.embedding.geometry import COLQWEN2_GEOMETRY, CellGeometry

if TYPE_CHECKING:
    from docretriever.library.local import LocalLibrary

DIM, GRID, PROMPT_ROWS = 128, (24, 32), 13
PAGES_PER_DOCUMENT = 20


class SyntheticEmbedder:
    """Only an identity: the synthetic corpus arrives already embedded."""

    identity = ModelIdentity("synthetic", "1", "synthetic-colqwen2-shaped-v1", DIM)
    batch_size = 16

    @property
    def geometry(self) -> CellGeometry:
        """ColQwen2's: the corpus is shaped like its pages."""
        return COLQWEN2_GEOMETRY

    def render_size(self, width_pt: float, height_pt: float) -> tuple[int, int]:
        return COLQWEN2_GEOMETRY.render_size(width_pt, height_pt, COLQWEN2_GEOMETRY.default_cells)

    def prepare_pages(self, images: Sequence[Image.Image]) -> PreparedPages:
        return PreparedPages(images)

    def embed_pages(
        self, pages: Sequence[Image.Image] | PreparedPages, cancel: object = None
    ) -> list[PageEmbedding]:
        raise RuntimeError("the synthetic corpus is embedded already")

    def embed_queries(self, texts: Sequence[str]) -> list[QueryEmbedding]:
        raise RuntimeError("the synthetic corpus is embedded already")


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


class SyntheticCorpus:
    """Deterministic pages and queries; page i depends only on (seed, i)."""

    def __init__(self, seed: int, vocabulary: int = 8192) -> None:
        rng = np.random.default_rng(seed)
        self.seed = seed
        self.words = unit(rng.normal(size=(vocabulary, DIM)))
        self.margin = unit(rng.normal(size=DIM))
        self.prompt = unit(rng.normal(size=(PROMPT_ROWS, DIM)))
        self.augmentation = unit(rng.normal(size=DIM))

    def _document_words(self, document: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, 1, document))
        return rng.choice(len(self.words), size=400, replace=False)

    def page(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        """(vectors (781, 128) float32, word ids per cell (768,), -1 for margin cells)."""
        rng = np.random.default_rng((self.seed, 2, number))
        vocabulary = self._document_words(number // PAGES_PER_DOCUMENT)
        n_x, n_y = GRID
        # Zipf-like: a few words recur on a page, most appear once or twice.
        page_words = vocabulary[rng.zipf(1.3, size=n_x * n_y) % len(vocabulary)]
        table = page_words.reshape(n_y, n_x).copy()
        table[:3], table[-3:], table[:, :2], table[:, -2:] = -1, -1, -1, -1  # blank margins
        table[1::3] = -1  # line spacing
        ids = table.reshape(-1)
        cells = np.where(
            (ids >= 0)[:, None],
            self.words[np.maximum(ids, 0)] + 0.35 * rng.normal(size=(n_x * n_y, DIM)) / np.sqrt(DIM),
            self.margin + 0.08 * rng.normal(size=(n_x * n_y, DIM)) / np.sqrt(DIM),
        )
        prompt = self.prompt + 0.05 * rng.normal(size=self.prompt.shape) / np.sqrt(DIM)
        return unit(np.concatenate([cells, prompt])), ids

    def query(self, number: int, n_pages: int) -> np.ndarray:
        """20 tokens: 12 words of a random target page, 8 augmentation-like tokens."""
        rng = np.random.default_rng((self.seed, 3, number))
        _, ids = self.page(int(rng.integers(n_pages)))
        present = np.unique(ids[ids >= 0])
        chosen = rng.choice(present, size=min(12, len(present)), replace=False)
        words = self.words[chosen] + 0.6 * rng.normal(size=(len(chosen), DIM)) / np.sqrt(DIM)
        filler = self.augmentation + 0.3 * rng.normal(size=(8, DIM)) / np.sqrt(DIM)
        return unit(np.concatenate([words, filler]))


def add_synthetic_pages(
    library: LocalLibrary, corpus: SyntheticCorpus, pages: int, *, start: int = 0
) -> None:
    """Store synthetic pages ``start`` .. ``pages - 1`` in ``library`` (a LocalLibrary opened
    with a :class:`SyntheticEmbedder`), 20 pages per document; the index is saved at the end."""
    for document in range(start // PAGES_PER_DOCUMENT, -(-pages // PAGES_PER_DOCUMENT)):
        first = document * PAGES_PER_DOCUMENT
        numbers = range(first, min(first + PAGES_PER_DOCUMENT, pages))
        embedded = [
            (PageInfo(n - first, 612.0, 792.0, 0), PageEmbedding(corpus.page(n)[0], GRID)) for n in numbers
        ]
        # A real hash, so that doc ids (its first 12 hex digits) differ between documents.
        sha = hashlib.sha256(f"synthetic-{corpus.seed}-{document}".encode()).hexdigest()
        library.add_embedded_pages(sha, f"synthetic/{document}.pdf", embedded, save_index=False)
    library.candidates.save()


def synthetic_queries(corpus: SyntheticCorpus, count: int, n_pages: int) -> list[QueryEmbedding]:
    """``count`` deterministic queries whose targets lie among the first ``n_pages`` pages."""
    result = []
    for number in range(count):
        vectors = corpus.query(number, n_pages)
        result.append(
            QueryEmbedding(f"q{number}", vectors, ("",) * len(vectors), np.ones(len(vectors), bool))
        )
    return result


def synthetic_library(
    folder: str | os.PathLike[str], pages: int, seed: int = 0
) -> tuple[LocalLibrary, SyntheticCorpus]:
    """A local library in ``folder`` holding synthetic pages 0 .. ``pages - 1`` of ``seed``'s
    corpus; pages already there (from an earlier, same-seed call) are kept, not rebuilt."""
    from docretriever.library.local import LocalLibrary

    corpus = SyntheticCorpus(seed)
    library = LocalLibrary(folder, embedder=SyntheticEmbedder())
    have = len(library.indexed_pages()) // PAGES_PER_DOCUMENT * PAGES_PER_DOCUMENT
    if have < pages:
        add_synthetic_pages(library, corpus, pages, start=have)
    return library, corpus
