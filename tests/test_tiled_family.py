"""ColModernVBert's tiles: pages rendered at whole 512-px tiles, each tile's 8 x 8 rows put back
in row-major order over the whole page, the global image's rows kept apart from the cells. On a
tiny random-weight ColModernVBert built with the real structure (docretriever.testing.tiny_tiled)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import ImageDraw
from test_model_families import lined_page

from docretriever.embedding import ModelSpec, load_embedder
from docretriever.embedding.families import COLMODERNVBERT
from docretriever.embedding.geometry import TiledGeometry
from docretriever.embedding.tiled import TiledEmbedder, tiles_to_page_order
from docretriever.errors import InvalidInputError, ModelError, PageError
from docretriever.testing.tiny_tiled import build_tiny_colmodernvbert

GEOMETRY = COLMODERNVBERT.geometry
assert isinstance(GEOMETRY, TiledGeometry)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_colmodernvbert(tmp_path_factory.mktemp("colmodernvbert"))


@pytest.fixture(scope="module")
def embedder(folder: Path) -> TiledEmbedder:
    loaded = load_embedder(ModelSpec(str(folder), device="cpu", visual_tokens=6 * 64))
    assert isinstance(loaded, TiledEmbedder)
    return loaded


def _tile_major(x: int, y: int, tiles_x: int, side: int = 8) -> int:
    """The row of cell (x, y) in the processor's own order: tile by tile, row-major within."""
    tile = (y // side) * tiles_x + x // side
    return tile * side * side + (y % side) * side + x % side


def test_render_sizes_are_whole_tiles_within_the_budget() -> None:
    assert GEOMETRY.cell_px == 64 and GEOMETRY.tile_px == 512 and GEOMETRY.cells_per_tile == 64
    cases = {
        # (page in points, budget in cells): (tiles across, tiles down)
        ((612, 792), 16 * 64): (4, 4),  # letter at the default: colpali-engine's 2,048 px
        ((612, 792), 12 * 64): (3, 4),
        ((612, 792), 6 * 64): (2, 3),
        ((612, 792), 64): (1, 1),
        ((612, 792), 127): (1, 1),  # a budget counts whole tiles
        ((842, 595), 6 * 64): (3, 2),
        ((300, 2000), 36 * 64): (1, 6),  # at most 6 tiles a side
        ((2000, 2000), 36 * 64): (6, 6),
    }
    for ((width, height), cells), tiles in cases.items():
        size = GEOMETRY.render_size(width, height, cells)
        assert GEOMETRY.tile_grid(size) == tiles, (width, height, cells)
        n_x, n_y = GEOMETRY.grid(size)
        assert (n_x, n_y) == (tiles[0] * 8, tiles[1] * 8) and n_x * n_y <= max(cells, 64)
    with pytest.raises(InvalidInputError, match="at most 2,304"):
        GEOMETRY.check_cells(2305)
    with pytest.raises(InvalidInputError, match="at least 64"):
        GEOMETRY.check_cells(63)
    with pytest.raises(PageError, match="no area"):
        GEOMETRY.render_size(0, 100, 1024)
    with pytest.raises(ValueError, match="512-px tiles"):
        GEOMETRY.tile_grid((1024, 700))


def test_tile_major_rows_are_put_in_page_order() -> None:
    tiles, side = (3, 2), 8
    n_x = tiles[0] * side
    local = tiles[0] * tiles[1] * side * side
    rows = np.arange(local + side * side, dtype=np.float32)[:, None]  # row i holds i
    cells, extra = tiles_to_page_order(rows, tiles, side)
    assert cells.shape == (local, 1) and extra[:, 0].tolist() == list(range(local, local + 64))
    for x, y in [(0, 0), (9, 2), (3, 10), (n_x - 1, 2 * side - 1), (17, 5)]:
        assert cells[y * n_x + x, 0] == _tile_major(x, y, tiles[0])
    # Negative control: read as they come (tile-major) the rows would name other cells.
    assert (rows[:local, 0] != cells[:, 0]).sum() > local // 2
    # One tile: no global image, nothing extra.
    cells, extra = tiles_to_page_order(rows[:64], (1, 1), side)
    assert cells.shape == (64, 1) and extra.shape == (0, 1)
    with pytest.raises(ModelError, match="unexpected number of image vectors"):
        tiles_to_page_order(rows[:local], tiles, side)  # the global image's rows missing


def test_each_row_moves_with_its_own_cell(embedder: TiledEmbedder) -> None:
    assert embedder.identity.family == COLMODERNVBERT.name and embedder.identity.dim == 128
    size = embedder.render_size(612, 792)
    assert size == (1024, 1536)  # 2 x 3 tiles: 6 within the budget of 384 cells
    page = lined_page(size)
    [plain] = embedder.embed_pages([page])
    n_x, n_y = plain.grid
    assert (n_x, n_y) == (16, 24)
    assert np.allclose(np.linalg.norm(plain.vectors, axis=1), 1, atol=1e-4)
    # (9, 2): second tile of the first row; (3, 10): first tile of the second row; (13, 22): in
    # the last tile (whose very last cell is row n - 1 in either order, so not that one).
    for x, y in [(9, 2), (3, 10), (n_x - 3, n_y - 2)]:
        marked = page.copy()
        ImageDraw.Draw(marked).rectangle([x * 64, y * 64, x * 64 + 63, y * 64 + 63], fill="black")
        [changed] = embedder.embed_pages([marked])
        moved = np.linalg.norm(changed.cells() - plain.cells(), axis=1)
        assert int(np.argmax(moved)) == y * n_x + x, (x, y)
        # Negative control: in the processor's tile-major order this cell is another row.
        assert _tile_major(x, y, 2) != y * n_x + x


def test_global_image_rows_follow_the_cells_and_are_not_cells(embedder: TiledEmbedder, folder: Path) -> None:
    from colpali_engine.models import ColModernVBertProcessor

    processor = ColModernVBertProcessor.from_pretrained(str(folder))
    # Negative control: the processor as saved (longest_edge 2,048) would stretch a 2 x 3-tile
    # page to 3 x 4 tiles, whose rows would no longer be the cells it was rendered in.
    stretched = processor.process_images([lined_page((1024, 1536))])
    assert int((stretched["input_ids"] == processor.image_token_id).sum()) == 12 * 64 + 64
    for size, tiles in [((1024, 1536), 6), ((512, 512), 1)]:
        page = lined_page(size)
        [embedding] = embedder.embed_pages([page])
        processor.image_processor.size = {"longest_edge": max(size)}
        batch = processor.process_images([page])
        image_rows = int((batch["input_ids"] == processor.image_token_id).sum())
        prompt_rows = int(batch["attention_mask"].sum()) - image_rows
        global_rows = 64 if tiles > 1 else 0
        assert image_rows == tiles * 64 + global_rows
        assert embedding.n_cells == tiles * 64 and embedding.cells().shape[0] == tiles * 64
        assert embedding.vectors.shape[0] == embedding.n_cells + global_rows + prompt_rows
    # Shrinking the whole page into the global image moves its rows when the page changes
    # anywhere; the cells of an untouched tile barely move (they are not global rows).
    page = lined_page((1024, 512))
    marked = page.copy()
    ImageDraw.Draw(marked).rectangle([0, 0, 511, 511], fill="black")  # the whole left tile
    [before], [after] = embedder.embed_pages([page]), embedder.embed_pages([marked])
    moved = np.linalg.norm(after.vectors - before.vectors, axis=1)
    cells = moved[:128].reshape(8, 16)
    left, right, global_image = cells[:, :8], cells[:, 8:], moved[128:192]
    assert left.min() > 5 * right.max()
    assert global_image.max() > 5 * right.max()


def test_pages_not_rendered_at_whole_tiles_are_fitted_to_them(embedder: TiledEmbedder) -> None:
    [embedding] = embedder.embed_pages([lined_page((700, 900))])
    assert embedding.grid == tuple(8 * t for t in GEOMETRY.tile_grid(embedder.render_size(700, 900)))


def test_a_processor_with_other_tiles_is_refused(folder: Path, tmp_path: Path) -> None:
    import json
    import shutil

    other = tmp_path / "other"
    shutil.copytree(folder, other)
    config_path = other / "processor_config.json"
    config = json.loads(config_path.read_text())
    config["image_seq_len"] = 81  # 9 x 9 rows per tile
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelError, match="512-px tiles of 64 cells"):
        load_embedder(ModelSpec(str(other), device="cpu"))
    # Negative control: the unchanged copy loads.
    shutil.copy(folder / "processor_config.json", config_path)
    assert isinstance(load_embedder(ModelSpec(str(other), device="cpu")), TiledEmbedder)
