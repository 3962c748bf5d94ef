"""Search hits and how they turn into highlight regions and JSON."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from docretriever.documents import PageInfo
from docretriever.embedding.base import QueryEmbedding
from docretriever.embedding.geometry import CellGeometry
from docretriever.highlight.regions import Region, find_regions, heat_map
from docretriever.search.maxsim import similarity_map


@dataclass(frozen=True)
class Hit:
    """One page found by a search.

    ``score`` is the exact MaxSim score; ``page`` is 1-based; ``page_size`` is (width, height)
    of the page as displayed, in points. ``similarity`` is float32 of shape
    (n_query_tokens, n_y, n_x): each query token's dot product with each image cell of ``grid``
    (n_x, n_y); ``geometry`` is the model's, which says where each cell lies on the page.
    ``path`` is a path of the document that exists, or its last known one when ``missing``.
    ``page_label`` is the number printed on the page when the PDF gives one ("iv", "92"), and
    ``page_count`` the document's pages: see :func:`page_name`.
    """

    rank: int
    score: float
    doc_id: str
    path: str
    page: int
    page_size: tuple[float, float]
    rotation: int
    grid: tuple[int, int]
    geometry: CellGeometry
    similarity: np.ndarray
    query: QueryEmbedding
    # The document's file is at none of its paths now (``path`` is its last known place): the
    # page was found from its stored vectors, but cannot be shown or opened.
    missing: bool = False
    # Missing because its folder could not be reached at the last look (a drive or share that
    # is not connected), rather than gone from a folder that could be read.
    unavailable: bool = False
    page_label: str | None = None
    page_count: int | None = None

    def heat(self, tokens: np.ndarray | None = None) -> np.ndarray:
        """Heat map (n_y, n_x) in [0, 1]; over the query's words unless ``tokens`` (a bool mask
        over the query's tokens) picks others."""
        if tokens is None:
            tokens = self.query.is_word if self.query.is_word.any() else None
        return heat_map(self.similarity, tokens)

    def regions(self, tokens: np.ndarray | None = None, max_regions: int = 5) -> list[Region]:
        """Boxes around the best-matching parts of the page, heaviest first (see heat()), in
        points of the displayed page; the model's geometry places the cells."""
        boxes = self.geometry.cell_boxes(self.grid, self.page_size)
        return find_regions(self.heat(tokens), boxes, max_regions=max_regions)

    def as_dict(self, paths: Sequence[str] | None = None) -> dict[str, object]:
        """The hit as JSON: ``path`` is the file shown (one that exists), ``paths`` every path of
        its document (``paths`` given, else just ``path``)."""
        return {
            "rank": self.rank,
            "score": round(self.score, 5),
            "doc_id": self.doc_id,
            "path": self.path,
            "paths": list(paths) if paths else [self.path],
            "missing": self.missing,
            "unavailable": self.unavailable,
            "page": self.page,
            "page_label": self.page_label,
            "page_width": round(self.page_size[0], 2),
            "page_height": round(self.page_size[1], 2),
            # The model's cell grid over the page (columns, rows), which the regions' boxes follow.
            "grid": list(self.grid),
            "regions": [region.as_dict() for region in self.regions()],
        }


def page_name(hit: Hit, word: str = "p.") -> str:
    """How a hit's page is named to a person: "p. 92 (95/117)" when the page is labelled 92 but
    is the 95th of 117, "p. 95" when it has no label or its label is its number; ``word`` in
    place of "p." ("page 92 (95/117)" in a title)."""
    return page_name_of(hit.page, hit.page_label, hit.page_count, word)


def page_name_of(page: int, label: str | None, page_count: int | None = None, word: str = "p.") -> str:
    """See :func:`page_name`: ``page`` is 1-based, ``label`` the printed number (or None)."""
    if not label or label == str(page):
        return f"{word} {page}"
    position = f"{page}/{page_count}" if page_count else str(page)
    return f"{word} {label} ({position})"


def existing_path(paths: Sequence[str]) -> str:
    """The first of a document's ``paths`` that exists on this computer, else the first (its
    last known place); "" for a document with no path."""
    for path in paths:
        if os.path.exists(path):
            return path
    return paths[0] if paths else ""


def make_hit(
    rank: int,
    score: float,
    *,
    doc_id: str,
    paths: Sequence[str],
    page: PageInfo,
    page_count: int | None,
    grid: tuple[int, int],
    geometry: CellGeometry,
    cells: np.ndarray,
    query: QueryEmbedding,
    unavailable: bool = False,
) -> Hit:
    """The :class:`Hit` for ``page`` of a document found with ``score``, every back end alike.

    ``cells`` are the page's image-cell rows, shape (n_y * n_x, dim) in row-major order of
    ``grid`` = (n_x, n_y); the similarity map is the query's tokens against them. ``geometry``
    is the library's model's (known without loading it), for the cells' places on the page.
    ``unavailable`` says the document's folder could not be reached at the last look (it only
    counts when no path exists now).
    """
    path = existing_path(paths)
    missing = not (path and os.path.exists(path))
    return Hit(
        rank=rank,
        score=score,
        doc_id=doc_id,
        path=path,
        missing=missing,
        unavailable=missing and unavailable,
        page=page.index + 1,
        page_label=page.label,
        page_count=page_count,
        page_size=(page.width_pt, page.height_pt),
        rotation=page.rotation,
        grid=grid,
        geometry=geometry,
        similarity=similarity_map(query.vectors, cells, grid),
        query=query,
    )
