"""Pages like a page ("more like this page"): a stored page taken as the query, both back ends.

The query is the page's image-cell rows, each once. Its stored prompt rows ("Describe the
image.", the same few tokens on every page) are left out: they would match every page's own
prompt rows about equally, adding a near-constant to every score that says nothing about the
page, and they have no place on the page for highlights. A token-pooled page's cells share rows;
each shared row counts once, as it does in the page's own score against a text query.

A page has ~770 such rows against a text query's ~20, so a back end's first stages use a
summary of the page instead (:attr:`QueryEmbedding.coarse`: the local index's centroids, Qdrant's
pooled row and column means), and the page's rows score the shortlist exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docretriever.embedding.base import QueryEmbedding
from docretriever.errors import InvalidInputError, LibraryError
from docretriever.library.hits import Hit, existing_path, page_name_of
from docretriever.vocabulary import FAILED, Document


@dataclass(frozen=True)
class PageQuery:
    """A page taken as a query: ``doc_id`` and ``page`` (1-based) name it, ``title`` says it
    to a person ("report.pdf, page 4"), ``query`` is what is searched with (see the module)."""

    doc_id: str
    page: int
    title: str
    query: QueryEmbedding


def cell_query_rows(rows: np.ndarray, n_cells: int, cell_rows: np.ndarray | None) -> np.ndarray:
    """The rows of a stored page that stand for its image cells, each once, as float32.

    Args:
        rows: the page's stored rows, shape (n_rows, dim), float16 or float32: cells first (or,
            for a token-pooled page, its pooled rows), then its prompt rows.
        n_cells: n_x * n_y, the cells of its grid.
        cell_rows: for a token-pooled page, int (n_cells,), the row standing for each cell;
            None for a page stored unpooled.

    Returns:
        float32, shape (n, dim): rows ``[0, n_cells)``, or the distinct rows ``cell_rows``
        names, in row order. Never a prompt row.

    Raises:
        LibraryError: the page has no cell rows (a page stored without its grid).
    """
    if cell_rows is None:
        chosen = np.asarray(rows[: min(n_cells, len(rows))], dtype=np.float32)
    else:
        chosen = np.asarray(rows[np.unique(np.asarray(cell_rows))], dtype=np.float32)
    if not len(chosen):
        raise LibraryError("This page has no stored image cells to compare other pages with; re-index it.")
    return chosen


def document_name(document: Document) -> str:
    """A document's file name ("report.pdf"), or its doc id when it has no path."""
    path = existing_path(document.paths)
    return Path(path).name if path else document.doc_id


def check_page_number(document: Document, page: int) -> None:
    """Raise InvalidInputError, in words, when ``page`` (1-based) is not a page of ``document``
    as far as its page count is known."""
    name = document_name(document)
    if page < 1:
        raise InvalidInputError(f"Pages are numbered from 1; there is no page {page} in {name}.")
    if document.page_count is not None and page > document.page_count:
        pages = "1 page" if document.page_count == 1 else f"{document.page_count} pages"
        raise InvalidInputError(f"{name} has {pages}: there is no page {page}.")


def not_indexed(document: Document, page: int, error: str | None = None) -> LibraryError:
    """The error for a page that cannot be the query because it has no stored rows (yet)."""
    name = document_name(document)
    if error or document.status == FAILED:
        reason = error or document.error or "it could not be read"
        return LibraryError(
            f"Page {page} of {name} could not be indexed ({reason}), so it cannot be compared."
        )
    return LibraryError(
        f"Page {page} of {name} is not indexed yet: try again once indexing has finished "
        "(`docretriever add` resumes it)."
    )


def page_query(
    document: Document,
    page: int,
    label: str | None,
    cells: np.ndarray,
    coarse: np.ndarray | None,
) -> PageQuery:
    """The :class:`PageQuery` for page ``page`` (1-based, printed as ``label`` when it has one)
    of ``document``, whose cell rows are ``cells`` (see :func:`cell_query_rows`) and whose
    summary for a fast path's first stages is ``coarse`` (float32 (n, dim), or None)."""
    title = f"{document_name(document)}, {page_name_of(page, label, document.page_count, 'page')}"
    query = QueryEmbedding(
        text=f"Pages like {title}",
        vectors=np.ascontiguousarray(cells, dtype=np.float32),
        tokens=("",) * len(cells),  # no words: a highlight weighs every row (Hit.heat)
        is_word=np.zeros(len(cells), dtype=bool),
        coarse=None if coarse is None else np.ascontiguousarray(coarse, dtype=np.float32),
    )
    return PageQuery(document.doc_id, page, title, query)


def without_page(hits: Sequence[Hit], doc_id: str, page: int, k: int) -> list[Hit]:
    """``hits`` without page ``page`` of document ``doc_id`` (the query's own page), at most
    ``k``, ranked again from 1."""
    kept = [hit for hit in hits if (hit.doc_id, hit.page) != (doc_id, page)][:k]
    return [dataclasses.replace(hit, rank=rank) for rank, hit in enumerate(kept, start=1)]
