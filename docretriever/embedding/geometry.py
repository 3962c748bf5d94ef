"""A model family's page geometry: the square cells a page image is cut into, one row per cell.

A vision-language retriever of the Qwen-VL kind cuts a page image into square cells (patches
merged, e.g. 14 px patches merged 2 x 2 by Qwen2-VL: 28 px) and emits one row per cell, row
``y * n_x + x`` for the cell in column x, row y. Everything that depends on that size lives
here, owned by the embedding layer: the size a page is rendered at for a cell budget (so the
model's processor leaves the image alone), the pixel budget, the grid a rendered size gives, and
the box on the page that each cell row stands for (for highlights). Pure functions, no torch.

:data:`COLQWEN2_GEOMETRY` is ColQwen2's (Qwen2-VL vision, 28-px cells); the other families'
are in :mod:`docretriever.embedding.families`. :class:`TiledGeometry` is the geometry of models
that cut a page into square tiles, each read as a fixed grid of cells (ColModernVBert: 512-px
tiles of 8 x 8 cells of 64 px): rendered at whole tiles, the page's cells are still one uniform
grid, so only the render size differs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from docretriever.errors import InvalidInputError, PageError


@dataclass(frozen=True, kw_only=True)
class CellGeometry:
    """How a model family cuts a page image into cells, and how many it takes.

    ``cell_px``: a cell's side in pixels of the image the model sees. ``min_cells`` and
    ``max_cells``: the fewest and most cells (visual tokens) the model takes per image;
    ``default_cells``: the budget its published checkpoints were evaluated with. ``family`` names
    the models, for messages ("ColQwen2"); ``max_aspect_ratio`` is the longest side over the
    shortest that its processor accepts. Raises ValueError for values that cannot describe a
    model (a cell under 1 px, a budget outside its own limits).
    """

    family: str
    cell_px: int
    min_cells: int
    max_cells: int
    default_cells: int
    max_aspect_ratio: float = 200.0

    def __post_init__(self) -> None:
        if self.cell_px < 1 or not 1 <= self.min_cells <= self.default_cells <= self.max_cells:
            raise ValueError(f"not a cell geometry: {self}")
        if not self.max_aspect_ratio >= 1:
            raise ValueError(f"not an aspect ratio limit: {self.max_aspect_ratio}")

    @property
    def pixels_per_cell(self) -> int:
        """Pixels in one cell: ``cell_px`` squared."""
        return self.cell_px * self.cell_px

    @property
    def min_pixels(self) -> int:
        """The fewest pixels an image may have: ``min_cells`` cells."""
        return self.min_cells * self.pixels_per_cell

    def max_pixels(self, cells: int) -> int:
        """The pixel budget of ``cells`` visual tokens: ``cells * cell_px ** 2`` (the processor's cap)."""
        return cells * self.pixels_per_cell

    def check_cells(self, cells: int) -> None:
        """Raise :class:`InvalidInputError` unless ``cells`` is a budget the model takes."""
        if not self.min_cells <= cells <= self.max_cells:
            raise InvalidInputError(
                f"The visual-token budget must be at least {self.min_cells:,} and at most "
                f"{self.max_cells:,} (the most {self.family} takes per page), not {cells:,}; "
                f"{self.default_cells:,} is DocRetriever's default for {self.family}."
            )

    def render_size(self, width: float, height: float, cells: int) -> tuple[int, int]:
        """Pixel size (width, height) to render a page of ``width`` x ``height`` (points, as
        displayed) at for a budget of ``cells`` cells: see :meth:`fit_pixels`.

        Raises :class:`InvalidInputError` for a budget the model does not take (see
        :meth:`check_cells`) and :class:`PageError` for a page it cannot take (no area, or too
        narrow).
        """
        self.check_cells(cells)
        return self.fit_pixels(width, height, self.max_pixels(cells))

    def fit_pixels(
        self, width: float, height: float, max_pixels: int, min_pixels: int | None = None
    ) -> tuple[int, int]:
        """Pixel size (width, height), both multiples of ``cell_px``, with area in
        [``min_pixels`` (default :attr:`min_pixels`), ``max_pixels``].

        ``width`` x ``height`` is any size in any unit; the result keeps its aspect ratio as
        closely as whole cells allow. This is the arithmetic of Qwen2-VL's ``smart_resize``
        (factor ``cell_px``), applied to the page scaled to the budget, except that an oversized
        rounding shrinks the one side that best keeps the page's shape; an image rendered at this
        size is not resized again by the processor. Raises :class:`PageError` for a page with no
        area or one whose aspect ratio is over :attr:`max_aspect_ratio`.
        """
        cell = self.cell_px
        floor = self.min_pixels if min_pixels is None else min_pixels
        self.check_page(width, height)
        scale = math.sqrt(max_pixels / (width * height))
        w, h = width * scale, height * scale
        w_bar = max(cell, round(w / cell) * cell)
        h_bar = max(cell, round(h / cell) * cell)
        if w_bar * h_bar > max_pixels:
            # Shrink one side to fit; of the two choices keep the one closest to the page's shape.
            # (smart_resize floors both sides instead, which wastes up to a quarter of the budget on
            # long narrow pages; any cell-aligned size within the budget is left alone by it.)
            options = [
                (w_bar, (max_pixels // w_bar) // cell * cell),
                ((max_pixels // h_bar) // cell * cell, h_bar),
            ]
            w_bar, h_bar = min(
                (o for o in options if min(o) >= cell),
                key=lambda o: (max(abs(o[0] / w - 1), abs(o[1] / h - 1)), -o[0] * o[1]),
            )
        elif w_bar * h_bar < floor:
            beta = math.sqrt(floor / (w * h))
            w_bar = math.ceil(w * beta / cell) * cell
            h_bar = math.ceil(h * beta / cell) * cell
        if not floor <= w_bar * h_bar <= max_pixels:
            # A budget close to the floor: rounding overshot one limit (and the processor would
            # resize the image past the other). Take the whole-cell grid within both limits
            # whose shape is closest to the page's.
            w_bar, h_bar = self._closest_grid(
                width / height, math.ceil(floor / self.pixels_per_cell), max_pixels
            )
        return w_bar, h_bar

    def check_page(self, width: float, height: float) -> None:
        """Raise :class:`PageError` for a page of ``width`` x ``height`` (any unit) the model
        cannot take: no area, or an aspect ratio over :attr:`max_aspect_ratio`."""
        if not (math.isfinite(width) and math.isfinite(height)) or width <= 0 or height <= 0:
            raise PageError(f"The page has no area ({width:g} x {height:g}).")
        aspect = max(width, height) / min(width, height)
        if aspect > self.max_aspect_ratio:
            shown = f"{aspect:.1f}".removesuffix(".0")
            raise PageError(
                f"The page is too narrow to embed: its aspect ratio is {shown}:1 ({width:g} x {height:g}), "
                f"over the model's limit of {self.max_aspect_ratio:.0f}:1."
            )

    def _closest_grid(self, aspect: float, fewest_cells: int, max_pixels: int) -> tuple[int, int]:
        """(width, height) in pixels of the grid of ``fewest_cells`` to ``max_pixels // cell**2``
        cells whose width over height is closest to ``aspect`` (in log ratio). Raises
        :class:`PageError` when no grid lies within both limits."""
        most_cells = max_pixels // self.pixels_per_cell
        best: tuple[float, int, int] | None = None
        for columns in range(1, most_cells + 1):
            rows_low, rows_high = max(1, math.ceil(fewest_cells / columns)), most_cells // columns
            if rows_low > rows_high:
                continue
            rows = min(max(round(columns / aspect), rows_low), rows_high)
            distortion = abs(math.log(columns / rows / aspect))
            if best is None or distortion < best[0]:
                best = (distortion, columns, rows)
        if best is None:
            raise PageError(f"No grid of {fewest_cells} to {most_cells} cells fits the model's limits.")
        return best[1] * self.cell_px, best[2] * self.cell_px

    def grid(self, size: tuple[int, int]) -> tuple[int, int]:
        """The cell grid (n_x, n_y) the model gives an image of ``size`` (width, height) pixels.

        Raises ValueError for a size that is not whole cells (the processor would resize such an
        image first, so its grid is not this one): render at :meth:`render_size`.
        """
        width, height = size
        if width <= 0 or height <= 0 or width % self.cell_px or height % self.cell_px:
            raise ValueError(f"{width} x {height} px is not a whole number of {self.cell_px}-px cells")
        return width // self.cell_px, height // self.cell_px

    def cell_box(
        self, x: int, y: int, grid: tuple[int, int], page_size: tuple[float, float]
    ) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in points of cell (x, y) of a (n_x, n_y) grid on the displayed page
        of ``page_size`` (width, height) points, origin top-left: see :meth:`cell_boxes`."""
        n_x, n_y = grid
        width, height = page_size
        return (x * width / n_x, y * height / n_y, (x + 1) * width / n_x, (y + 1) * height / n_y)

    def cell_boxes(self, grid: tuple[int, int], page_size: tuple[float, float]) -> np.ndarray:
        """Each cell's box on the displayed page: float64, shape (n_y, n_x, 4) of (x0, y0, x1, y1)
        in points, origin top-left; ``boxes.reshape(-1, 4)[r]`` is the box of cell row r.

        The page is rendered whole at a size of whole cells (no crop, no padding) and the
        processor leaves it so, so the cells split each axis of the page evenly and tile it.
        ``grid`` is (n_x, n_y), ``page_size`` (width, height) in points.
        """
        n_x, n_y = grid
        width, height = page_size
        xs, ys = np.arange(n_x + 1), np.arange(n_y + 1)
        # The same arithmetic as cell_box, so both give the same numbers to the last bit.
        left, right = xs[:-1] * width / n_x, xs[1:] * width / n_x
        top, bottom = ys[:-1] * height / n_y, ys[1:] * height / n_y
        boxes = np.empty((n_y, n_x, 4), dtype=np.float64)
        boxes[..., 0], boxes[..., 2] = left[None, :], right[None, :]
        boxes[..., 1], boxes[..., 3] = top[:, None], bottom[:, None]
        return boxes


@dataclass(frozen=True, kw_only=True)
class TiledGeometry(CellGeometry):
    """The geometry of a model that splits a page into square tiles of ``tile_px`` pixels and
    reads each tile as a grid of ``cell_px`` cells, row-major within the tile (Idefics3 and
    ColModernVBert: a 512-px tile, 32 x 32 SigLIP patches of 16 px, pixel-shuffled 4 x 4 into
    8 x 8 cells of 64 px; transformers 5.23's ``ModernVBertConnector.pixel_shuffle``).

    Pages are rendered at whole tiles (:meth:`fit_pixels`), which the processor then splits
    without resizing, so the cells of all tiles together form one uniform grid of
    (width / cell_px, height / cell_px) cells over the whole page: :meth:`grid` and
    :meth:`cell_boxes` are the base class's. Budgets are counted in cells, a tile at a time
    (``cells_per_tile``); the processor's extra image of the whole page (its "global image", one
    more tile's worth of rows, added when a page has more than one tile) is not counted.
    ``max_tiles_per_side`` caps each side (the tokenizer's ``<row_r_col_c>`` markers go up to 6).
    Raises ValueError for a tile that is not a whole number of cells.
    """

    tile_px: int
    max_tiles_per_side: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tile_px % self.cell_px or self.max_tiles_per_side < 1:
            raise ValueError(f"not a tiled geometry: {self}")
        if (
            self.min_cells < self.cells_per_tile
            or self.max_cells > self.cells_per_tile * self.max_tiles_per_side**2
        ):
            raise ValueError(f"budget limits outside whole tiles: {self}")

    @property
    def cells_per_side(self) -> int:
        """Cells along a tile's side: ``tile_px // cell_px`` (8 for ColModernVBert)."""
        return self.tile_px // self.cell_px

    @property
    def cells_per_tile(self) -> int:
        """Cells (and rows) per tile: ``cells_per_side`` squared (64 for ColModernVBert)."""
        return self.cells_per_side**2

    def tile_grid(self, size: tuple[int, int]) -> tuple[int, int]:
        """The tiles (t_x, t_y) of an image of ``size`` (width, height) pixels. Raises ValueError
        for a size that is not whole tiles (the processor would resize it first)."""
        width, height = size
        if width <= 0 or height <= 0 or width % self.tile_px or height % self.tile_px:
            raise ValueError(f"{width} x {height} px is not a whole number of {self.tile_px}-px tiles")
        return width // self.tile_px, height // self.tile_px

    def fit_pixels(
        self, width: float, height: float, max_pixels: int, min_pixels: int | None = None
    ) -> tuple[int, int]:
        """Pixel size (width, height), both multiples of ``tile_px``, of at most
        ``max_pixels // tile_px**2`` tiles (at least one) and at most ``max_tiles_per_side`` a
        side, whose shape is closest to the page's ``width`` x ``height`` (any unit).

        "Closest": the page scaled to the tile budget (each side capped at the most tiles a side,
        the other then taking what the budget and the page's shape allow) is compared with each
        whole-tile grid by its worse side's log ratio; ties go to more tiles. As
        :meth:`CellGeometry.fit_pixels` (rounding each side), not the fewest-distortion grid at
        any size: a page close to 3:4 with 16 tiles gets 4 x 4, not 3 x 4. ``min_pixels`` is
        ignored (the floor is one tile). Raises :class:`PageError` for a page with no area or
        too narrow (see :meth:`check_page`).
        """
        self.check_page(width, height)
        most = self.max_tiles_per_side
        tiles = min(most * most, max(1, max_pixels // (self.tile_px * self.tile_px)))
        aspect = width / height
        ideal_x, ideal_y = math.sqrt(tiles * aspect), math.sqrt(tiles / aspect)
        if ideal_y > most:
            ideal_x, ideal_y = min(most * aspect, tiles / most), most
        elif ideal_x > most:
            ideal_x, ideal_y = most, min(most / aspect, tiles / most)
        best = min(
            (max(abs(math.log(t_x / ideal_x)), abs(math.log(t_y / ideal_y))), -t_x * t_y, t_x, t_y)
            for t_x in range(1, most + 1)
            for t_y in range(1, most + 1)
            if t_x * t_y <= tiles
        )
        return best[2] * self.tile_px, best[3] * self.tile_px


# ColQwen2 (vidore/colqwen2-v1.0) and ColQwen2.5: Qwen2-VL / Qwen2.5-VL vision, 14-px patches
# merged 2 x 2 into 28 x 28 px cells. Qwen2-VL needs at least 4 cells (56 x 56 px) per image, and
# ColQwen2's processor caps an image at max_pixels 12,845,056 = 16,384 cells (its
# preprocessor_config.json). 768 is what the vidore checkpoints were evaluated with; fewer cells
# trade recall for speed on CPU-only machines. Qwen2-VL's smart_resize refuses an aspect ratio
# over 200.
COLQWEN2_GEOMETRY = CellGeometry(
    family="ColQwen2",
    cell_px=28,
    min_cells=4,
    max_cells=12_845_056 // (28 * 28),
    default_cells=768,
    max_aspect_ratio=200.0,
)
