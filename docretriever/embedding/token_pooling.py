"""Token pooling at ingest: fewer vectors per page, kept placed on the page for highlights.

colpali-engine's ``HierarchicalTokenPooler`` clusters a page's cell vectors (Ward linkage, with
each cell described by its row of 1 - cosine similarities to all cells) into
``n_cells // factor`` groups and keeps each group's normalised mean; colpali-engine reports
that factor 3 kept 97.8 % of ViDoRe retrieval quality with a third of the vectors (measured by
its authors, not re-measured here). Only
the image cells are pooled: the dozen prompt rows stay as they are. Each cell remembers which
pooled row stands for it, so a similarity map still has one value per cell.

torch and colpali-engine are imported when a page is pooled, not before.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from docretriever.embedding.base import PageEmbedding
from docretriever.errors import InvalidInputError

# The factors offered: beyond 4 the published quality falls off quickly.
POOL_FACTORS = (1, 2, 3, 4)
# Half the cores, at most four: the other half renders and embeds.
POOLING_THREADS = max(1, min(4, (os.cpu_count() or 2) // 2))


def check_pool_factor(factor: int) -> int:
    """``factor`` if it is one of :data:`POOL_FACTORS`; raises InvalidInputError otherwise."""
    if factor not in POOL_FACTORS:
        choices = ", ".join(str(f) for f in POOL_FACTORS)
        raise InvalidInputError(
            f"The token pooling factor must be one of {choices} (1: no pooling), not {factor}."
        )
    return factor


def pool_pages(embeddings: Sequence[PageEmbedding], factor: int) -> list[PageEmbedding]:
    """:func:`pool_page` for each page, on up to :data:`POOLING_THREADS` threads: the
    clustering (tens of ms a page) runs in numpy and SciPy, which release the GIL."""
    check_pool_factor(factor)
    if factor == 1 or len(embeddings) < 2:
        return [pool_page(embedding, factor) for embedding in embeddings]
    workers = min(POOLING_THREADS, len(embeddings))
    with ThreadPoolExecutor(workers, thread_name_prefix="token-pooling") as pool:
        return list(pool.map(lambda embedding: pool_page(embedding, factor), embeddings))


def pool_page(embedding: PageEmbedding, factor: int) -> PageEmbedding:
    """Pool the cell rows of an unpooled page embedding by ``factor``.

    Args:
        embedding: a page as the model returned it (``cell_rows`` None): float32 rows, shape
            (n_x * n_y + n_prompt, dim).
        factor: 1 returns ``embedding`` unchanged; otherwise about ``n_x * n_y // factor``
            pooled rows replace the cell rows.

    Returns:
        A PageEmbedding whose ``vectors`` are float32, shape (n_pooled + n_prompt, dim), unit
        rows, pooled rows first, and whose ``cell_rows`` (int32, shape (n_x * n_y,)) gives for
        each cell, in row-major order, the pooled row that stands for it.
    """
    check_pool_factor(factor)
    if factor == 1 or embedding.cell_rows is not None or embedding.n_cells < 2:
        return embedding
    import torch
    from colpali_engine.compression.token_pooling import HierarchicalTokenPooler

    cells = embedding.vectors[: embedding.n_cells]
    output = HierarchicalTokenPooler().pool_embeddings(
        [torch.from_numpy(np.ascontiguousarray(cells, dtype=np.float32))],
        pool_factor=factor,
        return_dict=True,
    )
    pooled = output.pooled_embeddings[0].numpy()
    cell_rows = np.full(embedding.n_cells, -1, dtype=np.int32)
    # The pooler keeps the non-empty clusters, in cluster order: that order numbers the rows.
    row = 0
    for _, (members,) in sorted(output.cluster_id_to_indices[0].items()):
        if members.numel():
            cell_rows[members.numpy()] = row
            row += 1
    if row != len(pooled) or (cell_rows < 0).any():
        raise RuntimeError(f"token pooling gave {len(pooled)} rows for {row} clusters")
    prompt = embedding.vectors[embedding.n_cells :]
    vectors = np.concatenate([pooled, prompt]).astype(np.float32, copy=False)
    return PageEmbedding(vectors, embedding.grid, cell_rows)
