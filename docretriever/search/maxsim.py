"""Exact late-interaction (MaxSim) scoring on numpy arrays: pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Pages scored per matrix product: bounds the float32 copy at ~ chunk x 770 rows x 512 bytes.
_CHUNK_PAGES = 256
# ... and fewer when many query tokens are scored at once: the similarity matrix stays under
# this many float32 values (64 MiB) for pages of ~800 rows.
_SIMILARITY_BUDGET = 1 << 24
_TYPICAL_ROWS = 800


def maxsim_scores(query: np.ndarray, pages: Sequence[np.ndarray]) -> np.ndarray:
    """Late-interaction scores of one query against many pages.

    Args:
        query: float32, shape (n_query_tokens, dim), L2-normalised rows.
        pages: one array per page, shape (n_rows_i, dim), float16 or float32 (memory-mapped
            views are fine; int8 centroids work too, with the query scaled to match); every
            page has at least one row.

    Returns:
        float32, shape (n_pages,): for each page, the sum over query tokens of the largest dot
        product between that token and any of the page's rows. This equals colpali-engine's
        ``score_multi_vector`` on the same embeddings, without its zero-padding rows (which
        would clamp a token whose similarities are all negative to 0).
    """
    return maxsim_score_matrix([query], pages)[0]


def maxsim_score_matrix(queries: Sequence[np.ndarray], pages: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`maxsim_scores` for several queries at once, reading each page only once.

    Args:
        queries: one float32 array per query, shape (n_tokens_q, dim).
        pages: as for :func:`maxsim_scores`.

    Returns:
        float32, shape (n_queries, n_pages).
    """
    tokens = np.concatenate([np.asarray(q, dtype=np.float32) for q in queries])
    query_starts = np.concatenate(([0], np.cumsum([len(q) for q in queries])[:-1]))
    scores = np.empty((len(queries), len(pages)), dtype=np.float32)
    step = max(1, min(_CHUNK_PAGES, _SIMILARITY_BUDGET // (len(tokens) * _TYPICAL_ROWS)))
    for start in range(0, len(pages), step):
        chunk = pages[start : start + step]
        lengths = np.fromiter((len(p) for p in chunk), dtype=np.int64, count=len(chunk))
        if (lengths == 0).any():
            raise ValueError("every page needs at least one row")
        rows = np.concatenate(chunk, dtype=np.float32)  # one pass: gather and widen together
        similarities = tokens @ rows.T  # (all query tokens, total_rows)
        page_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        per_token_max = np.maximum.reduceat(similarities, page_starts, axis=1)
        scores[:, start : start + len(chunk)] = np.add.reduceat(per_token_max, query_starts, axis=0)
    return scores


def similarity_map(query: np.ndarray, page_cells: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Per-token similarity of a query to each image cell of a page.

    Args:
        query: float32, shape (n_query_tokens, dim).
        page_cells: shape (n_x * n_y, dim), the page's cell rows in row-major order.
        grid: (n_x, n_y), cells across and down the page as displayed.

    Returns:
        float32, shape (n_query_tokens, n_y, n_x): dot products, in [-1, 1] for unit vectors.
    """
    n_x, n_y = grid
    if page_cells.shape[0] != n_x * n_y:
        raise ValueError(f"{page_cells.shape[0]} cell rows do not fill a {n_x} x {n_y} grid")
    similarities = np.ascontiguousarray(query, dtype=np.float32) @ page_cells.astype(np.float32).T
    return similarities.reshape(len(query), n_y, n_x)
