"""Token pooling at ingest: colpali-engine's pooler, cells still placed, recorded in the library."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from colpali_engine.compression.token_pooling import HierarchicalTokenPooler
from conftest import SAMPLES, corpus_or_skip

from docretriever.embedding.base import PageEmbedding
from docretriever.embedding.token_pooling import pool_page
from docretriever.errors import InvalidInputError
from docretriever.library.local import LocalLibrary


def _page(seed: int, grid: tuple[int, int] = (6, 5), prompt: int = 4) -> PageEmbedding:
    rng = np.random.default_rng(seed)
    # Clustered like real cells: a few directions plus noise.
    centres = rng.normal(size=(5, 16))
    rows = centres[rng.integers(0, 5, size=grid[0] * grid[1] + prompt)] + 0.3 * rng.normal(
        size=(grid[0] * grid[1] + prompt, 16)
    )
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return PageEmbedding(rows.astype(np.float32), grid)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_pooled_rows_are_colpali_engines_and_every_cell_points_at_its_cluster(factor: int) -> None:
    page = _page(factor)
    pooled = pool_page(page, factor)
    reference = HierarchicalTokenPooler().pool_embeddings(
        [torch.from_numpy(page.vectors[:30])], pool_factor=factor
    )[0]
    n_pooled = len(reference)
    assert n_pooled <= 30 // factor
    np.testing.assert_allclose(pooled.vectors[:n_pooled], reference.numpy(), atol=1e-6)
    # Prompt rows are kept unpooled, after the pooled ones.
    np.testing.assert_array_equal(pooled.vectors[n_pooled:], page.vectors[30:])
    assert pooled.cell_rows is not None and pooled.cell_rows.shape == (30,)
    assert set(pooled.cell_rows.tolist()) == set(range(n_pooled))
    for row in range(n_pooled):
        members = page.vectors[:30][pooled.cell_rows == row]
        mean = members.mean(axis=0)
        np.testing.assert_allclose(pooled.vectors[row], mean / np.linalg.norm(mean), atol=1e-5)
    # Each cell's vector is the pooled row standing for it.
    np.testing.assert_array_equal(pooled.cells(), pooled.vectors[pooled.cell_rows])


def test_factor_one_and_pooled_pages_are_left_alone() -> None:
    page = _page(0)
    assert pool_page(page, 1) is page
    pooled = pool_page(page, 3)
    assert pool_page(pooled, 3) is pooled
    with pytest.raises(InvalidInputError):
        pool_page(page, 7)


def test_a_pooled_library_stores_a_third_of_the_cells_and_still_highlights_every_cell(
    tmp_path: Path, tiny_embedder
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("004-pdflatex-4-pages/pdflatex-4-pages.pdf", "022-pdfkit/pdfkit.pdf"):
        shutil.copy(corpus_or_skip(SAMPLES) / name, inbox)
    plain = LocalLibrary(tmp_path / "plain", embedder=tiny_embedder)
    plain.add([inbox])
    pooled = LocalLibrary(tmp_path / "pooled", embedder=tiny_embedder, token_pooling=3)
    pooled.add([inbox])
    assert pooled.info().token_pool_factor == 3 and plain.info().token_pool_factor == 1
    plain_pages = {(p.document_id, p.index): p for p in plain.indexed_pages().values()}
    for page in pooled.indexed_pages().values():
        n_x, n_y = page.grid or (0, 0)
        unpooled = plain_pages[(page.document_id, page.index)]
        prompt_rows = (unpooled.n_rows or 0) - n_x * n_y
        assert page.cell_rows is not None and unpooled.cell_rows is None
        assert (page.n_rows or 0) - prompt_rows <= n_x * n_y // 3
        assert pooled.page_cells(page).shape == (n_x * n_y, 128)
    (hit, *_) = pooled.search("a test page", k=3)
    # One value per query token and cell; cells pooled together share their row's value.
    assert hit.similarity.shape == (len(hit.query.vectors), hit.grid[1], hit.grid[0])
    document = pooled.find_document(hit.doc_id)
    (page,) = [p for p in pooled.catalog.pages(document.id) if p.index == hit.page - 1]
    cell_rows = np.frombuffer(page.cell_rows or b"", dtype="<i2")
    flat = hit.similarity.reshape(len(hit.query.vectors), -1)
    for row in np.unique(cell_rows):
        members = flat[:, cell_rows == row]
        np.testing.assert_allclose(members, members[:, :1].repeat(members.shape[1], axis=1), atol=1e-6)
    assert len(np.unique(flat[0])) > 1
    plain.close()
    pooled.close()

    # The factor is the library's: reopening keeps it, asking for another is refused.
    again = LocalLibrary(tmp_path / "pooled", embedder=tiny_embedder)
    assert again.token_pool_factor == 3
    again.close()
    with pytest.raises(InvalidInputError, match="pools page vectors by 3"):
        LocalLibrary(tmp_path / "pooled", embedder=tiny_embedder, token_pooling=2)
    with pytest.raises(InvalidInputError, match="pools page vectors by 1, not 3"):
        LocalLibrary(tmp_path / "plain", embedder=tiny_embedder, token_pooling=3)


def test_a_pooled_librarys_rebuilt_index_finds_the_same_pages(tmp_path: Path, tiny_embedder) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(corpus_or_skip(SAMPLES) / "004-pdflatex-4-pages/pdflatex-4-pages.pdf", inbox)
    library = LocalLibrary(tmp_path / "lib", embedder=tiny_embedder, token_pooling=2)
    library.add([inbox])
    before = [(h.doc_id, h.page, round(h.score, 4)) for h in library.search("pages", k=4)]
    library.close()
    (tmp_path / "lib" / "index.usearch").unlink()
    library = LocalLibrary(tmp_path / "lib", embedder=tiny_embedder)
    assert [(h.doc_id, h.page, round(h.score, 4)) for h in library.search("pages", k=4)] == before
    library.close()
