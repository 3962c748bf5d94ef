"""The embedding interface the rest of the core depends on; no torch here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from docretriever.embedding.geometry import CellGeometry
from docretriever.errors import PageError
from docretriever.progress import CancelToken

if TYPE_CHECKING:
    from docretriever.documents.pdf import PageInfo


@dataclass(frozen=True)
class PageEmbedding:
    """One page's multi-vector embedding.

    ``vectors`` is float32, shape (n_rows, dim), each row L2-normalised. As the model returns
    it, rows ``[0, n_x * n_y)`` are the image cells in row-major order (row ``y * n_x + x`` is
    the cell in column x, row y of the rendered page; the embedder's
    :class:`~docretriever.embedding.geometry.CellGeometry` gives its size and its box on the
    page) and the remaining rows are the prompt tokens of the visual prompt. Both are kept
    because MaxSim was trained over the whole sequence (the published scores include them),
    while only cell rows have a place on the page for highlights. Padding rows are dropped.

    A token-pooled page (see :mod:`docretriever.embedding.token_pooling`) has fewer image rows
    than cells: ``cell_rows``, int32 shape (n_x * n_y,), then names the row standing for each
    cell, and the prompt rows follow the pooled ones.
    """

    vectors: np.ndarray
    grid: tuple[int, int]  # (n_x, n_y)
    cell_rows: np.ndarray | None = None

    @property
    def n_cells(self) -> int:
        return self.grid[0] * self.grid[1]

    def cells(self) -> np.ndarray:
        """One row per cell, shape (n_x * n_y, dim), row-major; pooled rows repeated."""
        return page_cells(self.vectors, self.n_cells, self.cell_rows)


def page_cells(rows: np.ndarray, n_cells: int, cell_rows: np.ndarray | None) -> np.ndarray:
    """A page's vector per cell, shape (n_cells, dim), from its stored ``rows`` (n_rows, dim)
    and, for a pooled page, ``cell_rows`` (int, shape (n_cells,)); see :class:`PageEmbedding`."""
    return rows[:n_cells] if cell_rows is None else rows[cell_rows]


@dataclass(frozen=True)
class QueryEmbedding:
    """One query's multi-vector embedding.

    ``vectors`` is float32, shape (n_tokens, dim), L2-normalised rows, padding dropped.
    ``tokens`` holds the text of each row's token; ``is_word[i]`` is True when row i comes from
    the text the person typed (not the "Query: " prefix nor the augmentation tokens), which is
    what a per-word highlight view offers.
    """

    text: str
    vectors: np.ndarray
    tokens: tuple[str, ...]
    is_word: np.ndarray  # bool, shape (n_tokens,)
    # What a fast path's first two stages score with, when not ``vectors``: float32 (n, dim).
    # A page taken as the query has ~770 rows; its ~96 centroids find the same candidates for
    # a fraction of the cost, and its rows score the shortlist exactly (library/like.py).
    coarse: np.ndarray | None = None

    def words(self) -> list[tuple[str, np.ndarray]]:
        """The typed words, each with a bool mask of shape (n_tokens,) selecting its tokens.

        A word starts at a token that begins with white space, or after a token that is not
        part of the typed text; sub-word pieces join the word before them.
        """
        words: list[tuple[str, np.ndarray]] = []
        previous_was_word = False
        for index, (token, typed) in enumerate(zip(self.tokens, self.is_word, strict=True)):
            if not typed:
                previous_was_word = False
                continue
            if not words or not previous_was_word or token[:1].isspace():
                words.append(("", np.zeros(len(self.tokens), dtype=bool)))
            text, mask = words[-1]
            mask[index] = True
            words[-1] = (text + token, mask)
            previous_was_word = True
        return [(text.strip(), mask) for text, mask in words if text.strip()]


@dataclass(frozen=True)
class ModelIdentity:
    """What a library records about the model that built it.

    ``fingerprint`` is derived from the weights' tensor data only (see
    :mod:`docretriever.embedding.weights_fingerprint`), so the same weights match whether
    loaded by Hub id, from a partial cache or from a copied or edited folder; ``model_id`` and
    ``revision`` are for people to read.

    ``family`` names the model family (see :mod:`docretriever.embedding.families`), whose
    geometry maps a page's rows back to the page; it takes no part in equality (the fingerprint
    already tells models apart).

    ``legacy_fingerprint`` is the same model's fingerprint in the form recorded by libraries
    built before that (a digest of every file of its folders), set by the embedder that loaded
    the model and None otherwise. A library that recorded it accepts the model and records
    ``fingerprint`` instead. It takes no part in equality (it describes folders, not weights).
    """

    model_id: str
    revision: str
    fingerprint: str
    dim: int
    legacy_fingerprint: str | None = field(default=None, compare=False)
    family: str = field(default="ColQwen2", compare=False)


class PreparedPages:
    """Page images made ready for an embedder's model: resized, patched, tokenised.

    Preparing is CPU work that needs no model, so ingest does it on the rendering thread and
    the thread that runs the model only runs the model. This base class holds the images as
    they are, for embedders with nothing to prepare; an embedder may subclass it.
    """

    def __init__(self, images: Sequence[Image.Image]) -> None:
        self.images = list(images)

    def __len__(self) -> int:
        return len(self.images)


def prepared(pages: Sequence[Image.Image] | PreparedPages) -> PreparedPages:
    """``pages`` as a :class:`PreparedPages`, wrapping plain images unchanged."""
    return pages if isinstance(pages, PreparedPages) else PreparedPages(pages)


class Embedder(Protocol):
    """Turns page images and query texts into multi-vector embeddings."""

    @property
    def identity(self) -> ModelIdentity: ...

    @property
    def geometry(self) -> CellGeometry:
        """How the model cuts a page image into cells (their size in pixels, the budgets it
        takes, each cell's box on the page); known without running the model."""
        ...

    def render_size(self, width_pt: float, height_pt: float) -> tuple[int, int]:
        """The size (width, height) in pixels to render a page of ``width_pt`` x ``height_pt``
        points (as displayed) at for this embedder: whole cells within its budget, so that the
        model sees the image as rendered. Raises :class:`PageError` for a page the model cannot
        take (no area, too narrow)."""
        ...

    def prepare_pages(self, images: Sequence[Image.Image]) -> PreparedPages:
        """Do the model-free part of embedding ``images``. May run on another thread than
        :meth:`embed_pages`; implementations guard what the two share."""
        ...

    def embed_pages(
        self, images: Sequence[Image.Image] | PreparedPages, cancel: CancelToken | None = None
    ) -> list[PageEmbedding]:
        """Embed RGB page images, ideally rendered at a size from :meth:`render_size`, or
        pages this embedder prepared. One embedding per page, in order."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> list[QueryEmbedding]:
        """Embed query texts the way the checkpoint was trained to see them."""
        ...


def render_sizes(embedder: Embedder, pages: Sequence[PageInfo]) -> list[tuple[int, int] | PageError]:
    """Each of ``pages``' size (width, height) in pixels to render it at for ``embedder`` (see
    :meth:`Embedder.render_size`), or the :class:`PageError` saying why the model cannot take that
    page; one item per page, in order, for :meth:`~docretriever.documents.render_pool.RenderPool.render`."""
    sizes: list[tuple[int, int] | PageError] = []
    for page in pages:
        try:
            sizes.append(embedder.render_size(page.width_pt, page.height_pt))
        except PageError as error:
            sizes.append(error)
    return sizes
