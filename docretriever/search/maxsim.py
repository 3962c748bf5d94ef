"""Exact late-interaction (MaxSim) scoring on numpy arrays: pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Pages scored per matrix product: bounds the float32 copy at ~ chunk x 770 rows x 512 bytes.
_CHUNK_PAGES = 256


def maxsim_scores(query: np.ndarray, pages: Sequence[np.ndarray]) -> np.ndarray:
    """Late-interaction scores of one query against many pages.

    Args:
        query: float32, shape (n_query_tokens, dim), L2-normalised rows.
        pages: one array per page, shape (n_rows_i, dim), float16 or float32 (memory-mapped
            views are fine); every page has at least one row.

    Returns:
        float32, shape (n_pages,): for each page, the sum over query tokens of the largest dot
        product between that token and any of the page's rows. This equals colpali-engine's
        ``score_multi_vector`` on the same embeddings, without its zero-padding rows (which
        would clamp a token whose similarities are all negative to 0).
    """
    scores = np.empty(len(pages), dtype=np.float32)
    query = np.ascontiguousarray(query, dtype=np.float32)
    for start in range(0, len(pages), _CHUNK_PAGES):
        chunk = pages[start : start + _CHUNK_PAGES]
        lengths = np.fromiter((len(p) for p in chunk), dtype=np.int64, count=len(chunk))
        if (lengths == 0).any():
            raise ValueError("every page needs at least one row")
        rows = np.concatenate(chunk, dtype=np.float32)  # one pass: gather and widen together
        similarities = query @ rows.T  # (n_query_tokens, total_rows)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        per_token_max = np.maximum.reduceat(similarities, offsets, axis=1)
        scores[start : start + len(chunk)] = per_token_max.sum(axis=0)
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
